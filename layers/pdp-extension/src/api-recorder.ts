import type { Decision, DecisionRequest } from '../../../lambdas/shared/ports.js';
import { PEP_VERSION, type DecisionRecorder } from '../../../lambdas/policy/index.js';
import { canonicalJson, sha256Hex } from '../../../lambdas/shared/ids.js';

type Meta = { pep_topology: string; correlation_id?: string; trace_id?: string; token?: string };

/**
 * F14: the extension records its decisions through the authenticated API
 * (`POST /v1/enforcement/log`, authorised by the calling agent's own SVID), never by writing the
 * control table or the bus with the function's role. Decisions are queued and posted in batches
 * (≤ 500, the route's limit) every flush; bounded: beyond `max` queued the oldest are dropped.
 */
export class ApiEnforcementRecorder implements DecisionRecorder {
  private queue: { token: string; event: Record<string, unknown> }[] = [];
  dropped = 0;
  failed = 0;
  constructor(
    private readonly apiUrl: string,
    private readonly clock: { now(): Date },
    private readonly max = 10_000,
  ) {}

  async record(req: DecisionRequest, decision: Decision, meta: Meta): Promise<void> {
    // without the agent's own credential there is nothing the API would accept
    if (!meta.token) {
      this.dropped++;
      return;
    }
    if (this.queue.length >= this.max) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push({
      token: meta.token,
      event: {
        agent_id: req.principal.id,
        action_name: req.action,
        ...(req.resource ? { target: `${req.resource.type}::${req.resource.id}`.slice(0, 500) } : {}),
        context_hash: `sha256:${sha256Hex(canonicalJson(req.context ?? {}))}`,
        decision: decision.effect,
        decision_ms: decision.evaluation_ms,
        pep_topology: 'lambda-extension',
        pep_version: PEP_VERSION,
        occurred_at: this.clock.now().toISOString(),
        bundle_version: decision.bundle_version,
        ...(meta.correlation_id ? { correlation_id: meta.correlation_id.slice(0, 200) } : {}),
        ...(meta.trace_id ? { trace_id: meta.trace_id.slice(0, 200) } : {}),
      },
    });
  }

  async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    const byToken = new Map<string, Record<string, unknown>[]>();
    for (const x of batch) byToken.set(x.token, [...(byToken.get(x.token) ?? []), x.event]);
    for (const [token, events] of byToken) {
      for (let i = 0; i < events.length; i += 500) {
        const chunk = events.slice(i, i + 500);
        try {
          const r = await fetch(`${this.apiUrl.replace(/\/$/, '')}/v1/enforcement/log`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ events: chunk }),
            signal: AbortSignal.timeout(5000),
          });
          if (r.status !== 202) this.failed += chunk.length;
        } catch {
          this.failed += chunk.length;
        }
      }
    }
  }
}
