/**
 * The gateway's view of ARX: decisions (`POST /v1/policies/evaluate`, an agent asking about
 * itself), enforcement records (`POST /v1/enforcement/log`) and held calls (`POST /v1/actions`
 * on the MCP connector, then `GET /v1/actions/{id}`). Authenticates with the agent's SVID through
 * the SDK's ArxClient (exchanged from a bootstrap token and refreshed, or given).
 */
import { randomBytes } from 'node:crypto';
import type { Action, ActionError, ResponseOf } from '../contract.gen.js';
import { type ArxClient, ArxSdkError } from '../index.js';

type Evaluation = ResponseOf<'POST /v1/policies/evaluate', 200>;

/** The PDP's answer as `POST /v1/policies/evaluate` returns it (the gateway makes its own forbids without a timing). */
export type GatewayDecision = Readonly<
  Pick<Evaluation, 'effect' | 'approval' | 'risk' | 'determining_policies' | 'errors' | 'bundle_version'> &
    Partial<Pick<Evaluation, 'evaluation_ms'>>
>;

/** A held call: what `POST /v1/actions` (202) and `GET /v1/actions/{id}` answer about it. */
export type HeldAction = Readonly<
  Pick<Action, 'action_id' | 'status'> &
    Partial<Pick<Action, 'approval_id' | 'expires_at' | 'result'>> & {
      decision?: GatewayDecision;
      error?: Pick<ActionError, 'code' | 'message'> | null;
    }
>;

export interface EnforcementRecord {
  readonly action_name: string;
  readonly target: string;
  readonly context_hash: string;
  readonly decision: 'permit' | 'forbid';
  readonly decision_ms: number;
  readonly bundle_version: string | null;
  readonly trace_id?: string;
  readonly correlation_id?: string;
  readonly action_id?: string;
  /** The caller's W3C traceparent (`_meta.traceparent`): ARX's spans for the call are its children. */
  readonly traceparent?: string;
}

/** A governed call that ran upstream: what ARX's spans (`arx.execution`) are made of. */
export interface ExecutionRecord {
  readonly action_name: string;
  /** The enforcement record's correlation id, or the held call's action id. */
  readonly correlation_id: string;
  readonly action_id?: string;
  readonly traceparent?: string;
  readonly decision: GatewayDecision;
  readonly started_at: string;
  readonly ended_at: string;
  readonly is_error: boolean;
}

/** One tools/call as the gateway answered it: what its OpenTelemetry span is made of. */
export interface CallSpan {
  /** `<connector>:tools:<tool>` */
  readonly action_name: string;
  readonly connector: string;
  readonly tool: string;
  /** The caller's W3C traceparent (`_meta.traceparent`): the span is its child, in its trace. */
  readonly traceparent?: string;
  readonly start_ms: number;
  readonly end_ms: number;
  /** `executed`, `failed` (the upstream answered isError or threw), `denied` or `pending_approval`. */
  readonly outcome: 'executed' | 'failed' | 'denied' | 'pending_approval';
  readonly reason?: string;
  readonly approval_id?: string;
  readonly action_id?: string;
  readonly definition_hash?: string;
}

/** Everything the gateway asks ARX. Fail closed: any error here is a refusal. */
export interface ArxPort {
  agentId(): Promise<string>;
  evaluate(action: string, context: Record<string, string>): Promise<GatewayDecision>;
  record(e: EnforcementRecord): Promise<void>;
  submitHeld(input: {
    connector: string;
    operation: string;
    params: Record<string, unknown>;
    reason?: string;
    traceparent?: string;
  }): Promise<HeldAction>;
  getAction(actionId: string, waitS: number): Promise<HeldAction>;
  /** Tool-definition hashes an admin accepted for the connector (`{}` when none). */
  pins?(connector: string): Promise<Record<string, string>>;
  /** Reports a governed call that ran upstream (spans); a failure here never fails the call. */
  executed?(e: ExecutionRecord): Promise<void>;
  /**
   * Reports the `initialize` an MCP client sent this gateway (ARX's `mcp_handshake` discovery
   * evidence: which clients this agent runs); a failure here never fails the session.
   */
  handshake?(connector: string, initialize: { method: 'initialize'; params: Record<string, unknown> }): Promise<void>;
  /**
   * Reports one tools/call as a span. Never awaited on the response path and never fails a call:
   * an implementation buffers and exports in the background; `flush` sends what is buffered.
   */
  span?(s: CallSpan): void;
  flush?(): Promise<void>;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
const attr = (key: string, v: string | undefined) => (v === undefined ? [] : [{ key, value: { stringValue: v } }]);

/**
 * OTLP/JSON for a batch of calls: a span `execute_tool <tool>` each (GenAI conventions), a child of
 * the caller's span when it sent `_meta.traceparent` (same trace), else the root of a new trace.
 */
export function otlpTraces(spans: readonly CallSpan[], agentId: string, version: string): unknown {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [...attr('service.name', 'arx-mcp-gateway'), ...attr('service.version', version)],
        },
        scopeSpans: [
          {
            scope: { name: 'arx-mcp-gateway', version },
            spans: spans.map((c) => {
              const tp = TRACEPARENT.exec(c.traceparent ?? '');
              const traceId = tp && !/^0+$/.test(tp[1]!) ? tp[1]! : randomHex(16);
              const ok = c.outcome === 'executed';
              return {
                traceId,
                spanId: randomHex(8),
                ...(tp && traceId === tp[1] ? { parentSpanId: tp[2] } : {}),
                name: `execute_tool ${c.tool}`,
                kind: 1,
                startTimeUnixNano: (BigInt(Math.round(c.start_ms * 1000)) * 1000n).toString(),
                endTimeUnixNano: (BigInt(Math.round(Math.max(c.end_ms, c.start_ms) * 1000)) * 1000n).toString(),
                attributes: [
                  ...attr('gen_ai.operation.name', 'execute_tool'),
                  ...attr('gen_ai.tool.name', c.tool),
                  ...attr('gen_ai.agent.id', agentId),
                  ...attr('arx.action', c.action_name),
                  ...attr('arx.mcp.connector', c.connector),
                  ...attr('arx.outcome', c.outcome),
                  ...attr('arx.decision', c.outcome === 'denied' ? 'forbid' : 'permit'),
                  ...attr('arx.approval.id', c.approval_id),
                  ...attr('arx.action.id', c.action_id),
                  ...attr('arx.mcp.definition_hash', c.definition_hash),
                ],
                status: ok ? { code: 1 } : { code: 2, message: c.reason ?? c.outcome },
              };
            }),
          },
        ],
      },
    ],
  };
}

const forbid = (reason: string): GatewayDecision => ({
  effect: 'forbid',
  approval: 'none',
  risk: 'critical',
  determining_policies: [],
  errors: [reason],
  bundle_version: null,
});

export function agentIdOf(svid: string): string {
  const claims = JSON.parse(Buffer.from(svid.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: string };
  const id = claims.sub?.split('/').at(-1);
  if (!id) throw new ArxSdkError('the agent token has no SPIFFE subject');
  return id;
}

export class HttpArx implements ArxPort {
  private readonly base: string;
  constructor(
    private readonly client: ArxClient,
    apiUrl: string,
    private readonly pepVersion = 'arx-mcp-gateway/0.1',
  ) {
    this.base = apiUrl.replace(/\/$/, '');
  }

  async agentId(): Promise<string> {
    return agentIdOf(await this.client.token());
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    traceparent?: string,
    // biome-ignore lint/suspicious/noExplicitAny: the API's JSON bodies, narrowed by each caller
  ): Promise<{ status: number; json: any }> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.client.token(attempt > 0);
      const res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(traceparent ? { traceparent } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      // biome-ignore lint/suspicious/noExplicitAny: as above
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.status === 401 && attempt === 0) continue;
      return { status: res.status, json };
    }
  }

  async evaluate(action: string, context: Record<string, string>): Promise<GatewayDecision> {
    try {
      const principal = { type: 'Agent', id: await this.agentId() };
      const r = await this.call('POST', '/v1/policies/evaluate', {
        principal,
        action,
        resource: { type: 'Connector', id: action.split(':')[0] },
        context,
      });
      if (r.status !== 200 || !r.json || (r.json.effect !== 'permit' && r.json.effect !== 'forbid'))
        return forbid(`ARX refused the decision request (${r.status}${r.json?.title ? ` ${r.json.title}` : ''})`);
      return r.json as GatewayDecision;
    } catch (e) {
      return forbid(`ARX is unreachable or the agent cannot authenticate: ${(e as Error).message}`);
    }
  }

  async record(e: EnforcementRecord): Promise<void> {
    const agent_id = await this.agentId();
    const { traceparent, ...event } = e;
    const r = await this.call(
      'POST',
      '/v1/enforcement/log',
      {
        events: [
          {
            ...event,
            agent_id,
            pep_topology: 'mcp-gateway',
            pep_version: this.pepVersion,
            occurred_at: new Date().toISOString(),
          },
        ],
      },
      traceparent,
    );
    if (r.status !== 202)
      throw new ArxSdkError(`ARX did not record the enforcement event (${r.status})`, r.status, r.json);
  }

  async submitHeld(input: {
    connector: string;
    operation: string;
    params: Record<string, unknown>;
    reason?: string;
    traceparent?: string;
  }): Promise<HeldAction> {
    const r = await this.call(
      'POST',
      '/v1/actions',
      {
        connector: input.connector,
        operation: input.operation,
        params: input.params,
        ...(input.reason ? { reason: input.reason } : {}),
      },
      input.traceparent,
    );
    if (r.json && typeof r.json === 'object' && 'action_id' in r.json) return r.json as HeldAction;
    throw new ArxSdkError(
      `ARX refused the held call: ${r.status} ${r.json?.title ?? ''} ${r.json?.detail ?? ''}`,
      r.status,
      r.json,
    );
  }

  async pins(connector: string): Promise<Record<string, string>> {
    const r = await this.call('GET', `/v1/connectors/${encodeURIComponent(connector)}/tools/pins`);
    if (r.status === 404) return {};
    if (r.status !== 200 || !r.json?.pins)
      throw new ArxSdkError(`cannot read the accepted tool definitions of ${connector}: ${r.status}`, r.status, r.json);
    return r.json.pins as Record<string, string>;
  }

  private spans: CallSpan[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private exporting: Promise<void> = Promise.resolve();

  /** Buffers the span; a batch goes to `POST /v1/otlp/v1/traces` 200 ms later (or at 100 spans). */
  span(s: CallSpan): void {
    this.spans.push(s);
    if (this.spans.length >= 100) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 200).unref();
  }

  /** Sends every buffered span (best effort: a failed export is dropped, never retried into the call path). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.spans.splice(0);
    if (batch.length)
      this.exporting = this.exporting.then(async () => {
        try {
          await this.call('POST', '/v1/otlp/v1/traces', otlpTraces(batch, await this.agentId(), this.pepVersion));
        } catch {
          // telemetry never fails the gateway
        }
      });
    return this.exporting;
  }

  async handshake(connector: string, initialize: { method: 'initialize'; params: Record<string, unknown> }) {
    const r = await this.call('POST', '/v1/discovery/handshakes', { connector, initialize });
    if (r.status !== 200) throw new ArxSdkError(`ARX did not record the MCP handshake (${r.status})`, r.status, r.json);
  }

  async getAction(actionId: string, waitS: number): Promise<HeldAction> {
    const r = await this.call('GET', `/v1/actions/${encodeURIComponent(actionId)}${waitS > 0 ? `?wait=${waitS}` : ''}`);
    if (r.status !== 200) throw new ArxSdkError(`cannot read action ${actionId}: ${r.status}`, r.status, r.json);
    return r.json as HeldAction;
  }
}
