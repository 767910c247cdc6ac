/**
 * Function-side DecisionPoint: asks the PDP extension on localhost and falls back to the
 * in-process PDP when the extension is absent, not ready or slow.
 *
 * @example
 * const pdp = new ExtensionDecisionPoint({ fallback: () => createDecisionPoint() });
 * const d = await pdp.decide({ tenantId, principal: { type: 'Agent', id }, action: 'okta:users:read' });
 */
import type { Decision, DecisionPoint, DecisionRequest } from '../../../lambdas/shared/ports.js';
import { setting } from '../../../lambdas/shared/settings.js';

export interface ExtensionClientOptions {
  /** In-process PDP used when the extension does not answer (built lazily on first need). */
  readonly fallback: DecisionPoint | (() => DecisionPoint);
  /** @default ARX_PDP_PORT (4790) */
  readonly port?: number;
  /** @default 250 */
  readonly timeoutMs?: number;
  /** The agent's JWT-SVID, sent to an extension in SVID mode (F21a). */
  readonly svid?: () => string | Promise<string>;
}

export class ExtensionDecisionPoint implements DecisionPoint {
  private fb: DecisionPoint | null = null;
  private readonly url: string;
  /** How many decisions went to the fallback. */
  fallbacks = 0;
  constructor(private readonly o: ExtensionClientOptions) {
    this.url = `http://127.0.0.1:${o.port ?? setting('ARX_PDP_PORT')}/v1/decide`;
  }

  async decide(req: DecisionRequest): Promise<Decision> {
    try {
      const r = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.o.svid ? { authorization: `Bearer ${await this.o.svid()}` } : {}),
        },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 250),
      });
      if (r.status === 200) return (await r.json()) as Decision;
      if (r.status === 401 || r.status === 403) {
        // the extension refused the caller's identity: that is a forbid, not a reason to decide elsewhere
        const why = ((await r.json().catch(() => ({}))) as { error?: string }).error ?? 'caller identity refused';
        return {
          effect: 'forbid',
          approval: 'none',
          risk: 'high',
          determining_policies: [],
          errors: [why],
          evaluation_ms: 0,
          bundle_version: null,
          reason: 'caller_identity_refused',
        };
      }
    } catch {
      // extension absent or slow: decide in process
    }
    this.fallbacks++;
    this.fb ??= typeof this.o.fallback === 'function' ? this.o.fallback() : this.o.fallback;
    return this.fb.decide(req);
  }
}
