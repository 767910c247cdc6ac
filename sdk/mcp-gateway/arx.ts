/**
 * The gateway's view of ARX: decisions (`POST /v1/policies/evaluate`, an agent asking about
 * itself), enforcement records (`POST /v1/enforcement/log`) and held calls (`POST /v1/actions`
 * on the MCP connector, then `GET /v1/actions/{id}`). Authenticates with the agent's SVID through
 * the SDK's ArxClient (exchanged from a bootstrap token and refreshed, or given).
 */
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
