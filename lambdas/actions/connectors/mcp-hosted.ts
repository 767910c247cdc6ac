/**
 * `POST /v1/mcp/{connector}`: the MCP gateway hosted on the API, for upstreams reachable from the
 * stack (a connector of kind mcp with a `url`). Streamable HTTP in stateless mode: every request
 * gets a fresh MCP server and a fresh upstream client (GHSA-345p-7cg4-v4c7), built by the same
 * library as `arx mcp-gateway` (`createMcpGateway`), so list filtering, decisions, approvals,
 * pinning and audit are the CLI gateway's. What differs is how it reaches ARX: in process (the
 * PDP, the action service and the enforcement log of this function) instead of over HTTP, and a
 * held call never blocks: it answers `pending_approval` at once (`holdMs: 0`). The upstream is sent
 * the connector secret's token (Secrets Manager, bound to the url's origin), never the agent's SVID.
 */
import { ArxError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from '../../shared/errors.js';
import { assertPortableJson, validate, type ApiRequest, type ApiResult, type AuthContext } from '../../shared/http.js';
import { newId } from '../../shared/ids.js';
import { traceFrom } from '../../shared/trace.js';
import type { OutboxEntry, StagedEventSink } from '../../shared/events.js';
import { assertActionInScope } from '../../identity/index.js';
import { DynamoEnforcementLog, PEP_VERSION } from '../../policy/index.js';
import {
  createMcpGateway,
  GATEWAY_VERSION,
  type ArxPort,
  type GatewayDecision,
  type PinState,
  type PinStore,
} from '../../../sdk/mcp-gateway/index.js';
import type { HeldAction } from '../../../sdk/mcp-gateway/arx.js';
import { z } from 'zod';
import { actionView, type ActionService } from '../core/service.js';
import type { ActionServiceDeps } from '../core/service.js';
import { ConnectorError, connectorSecretName, type ConnectorConfigStore } from '../core/model.js';
import { readBoundSecret } from '../core/guards.js';
import { DynamoHeldStore } from '../adapters/dynamo-mcp-held.js';
import { McpRequest } from '../schemas.js';
import { MCP_CONNECTOR_NAME, McpConfig } from './mcp.js';
import { handshakeEvidence } from '../../shared/mcp-handshake.js';
import { evidenceEntries, reportEvidence } from '../../shared/discovery-evidence.js';

const McpName = z.string().regex(MCP_CONNECTOR_NAME, 'an MCP connector name (ending in "mcp")');
const PEP = `arx-mcp-gateway-hosted/${GATEWAY_VERSION}`;

export interface HostedDeps {
  readonly service: ActionService;
  readonly deps: ActionServiceDeps;
  readonly configs: ConnectorConfigStore;
  readonly controlTable: string;
}

const forbid = (reason: string): GatewayDecision => ({
  effect: 'forbid',
  approval: 'none',
  risk: 'critical',
  determining_policies: [],
  errors: [reason],
  bundle_version: null,
});

/** ARX as the gateway sees it, in process, for one agent of one tenant. */
function inProcessArx(h: HostedDeps, auth: AuthContext, caller: { tenantId: string; agentId: string }): ArxPort {
  const { deps, service } = h;
  const log = new DynamoEnforcementLog(h.controlTable, deps.clock);
  const events = deps.events as StagedEventSink;
  /** ARX span events for a call the gateway ran itself (observability builds the spans from the bus). */
  const emit = async (entries: OutboxEntry[]) => {
    await events.stage(entries, deps.clock.now().toISOString());
    await events.flush(entries);
  };
  const spanBase = (action: string, correlationId: string, traceparent: string | undefined) => {
    const t = traceFrom(traceparent);
    return {
      tenant_id: caller.tenantId,
      agent_id: caller.agentId,
      correlation_id: correlationId,
      action_id: correlationId,
      action,
      trace_id: t.traceId,
      traceparent: t.traceparent,
      ...(t.parentSpanId ? { parent_span_id: t.parentSpanId } : {}),
    };
  };
  return {
    agentId: async () => caller.agentId,
    async evaluate(action, context) {
      try {
        const [connector, ...rest] = action.split(':');
        assertActionInScope(auth, connector!, rest.join(':'));
        const d = await deps.pdp.decide({
          tenantId: caller.tenantId,
          principal: { type: 'Agent', id: caller.agentId },
          action,
          resource: { type: 'Connector', id: connector! },
          context,
        });
        return d;
      } catch (e) {
        return forbid(e instanceof ArxError ? e.message : 'the decision could not be made');
      }
    },
    async record(e) {
      const now = deps.clock.now();
      const { traceparent, ...rest } = e;
      const event = {
        ...rest,
        event_id: newId('enf', now),
        tenant_id: caller.tenantId,
        agent_id: caller.agentId,
        pep_topology: 'mcp-gateway',
        pep_version: `${PEP} (${PEP_VERSION})`,
        occurred_at: now.toISOString(),
        ...(e.trace_id ? {} : { trace_id: traceFrom(traceparent).traceId }),
      };
      await log.put([event]);
      if (e.decision === 'forbid' && traceparent) {
        const at = now.toISOString();
        await emit([
          {
            detailType: 'policy.decision',
            detail: {
              ...spanBase(e.action_name, e.correlation_id ?? event.event_id, traceparent),
              event_id: `${event.event_id}.span`,
              effect: 'forbid',
              decision: { effect: 'forbid', evaluation_ms: e.decision_ms },
              created_at: at,
              updated_at: at,
            },
          },
        ]).catch(() => undefined);
      }
    },
    async executed(x) {
      // A held call's spans come from its action's own events (decision, approval, execution).
      if (!x.traceparent || x.action_id) return;
      const latency = Math.max(0, Date.parse(x.ended_at) - Date.parse(x.started_at));
      await emit([
        {
          detailType: x.is_error ? 'operation.failed' : 'operation.executed',
          detail: {
            ...spanBase(x.action_name, x.correlation_id, x.traceparent),
            event_id: newId('evt', deps.clock.now()),
            decision: {
              effect: x.decision.effect,
              approval: x.decision.approval,
              evaluation_ms: x.decision.evaluation_ms ?? 1,
            },
            latency_ms: latency,
            created_at: x.started_at,
            updated_at: x.ended_at,
          },
        },
      ]);
    },
    async submitHeld(input) {
      assertActionInScope(auth, input.connector, input.operation);
      const out = await service.submit(
        caller,
        {
          connector: input.connector,
          operation: input.operation,
          params: input.params,
          ...(input.reason ? { reason: input.reason } : {}),
        },
        traceFrom(input.traceparent),
      );
      return actionView(out.action) as unknown as HeldAction;
    },
    async getAction(actionId) {
      return actionView(await service.get(caller, actionId, 0)) as unknown as HeldAction;
    },
    async pins(connector) {
      const cfg = McpConfig.safeParse((await h.configs.getConfig(caller.tenantId, connector)) ?? {});
      return cfg.success ? { ...(cfg.data.pins ?? {}) } : {};
    },
  };
}

/**
 * Trust on first use, durably: a tool's first definition seen through the hosted gateway is
 * written to the connector's accepted pins, so a later request with another definition is
 * quarantined (the gateway compares against those pins first).
 */
function configPins(h: HostedDeps, tenantId: string): PinStore {
  return {
    async check(connector, tool, hash): Promise<PinState> {
      const raw = (await h.configs.getConfig(tenantId, connector)) ?? {};
      const cfg = McpConfig.parse(raw);
      const pinned = cfg.pins?.[tool];
      if (pinned !== undefined && pinned !== hash) return { status: 'quarantined', pinned, seen: hash };
      if (pinned === undefined)
        await h.configs.putConfig(
          tenantId,
          connector,
          { ...cfg, pins: { ...(cfg.pins ?? {}), [tool]: hash } },
          h.deps.clock.now().toISOString(),
        );
      return { status: 'pinned', hash };
    },
    async accept() {
      // Accepting is the admin's route (POST /v1/connectors/{name}/tools/{tool}/accept).
    },
  };
}

const problem = (status: number, title: string, detail: string, headers: Record<string, string> = {}): ApiResult => ({
  status,
  headers: { 'content-type': 'application/problem+json', ...headers },
  body: { type: 'about:blank', title, status, detail },
});

/** GET and DELETE: a stateless server has no stream to resume and no session to end. */
export function mcpMethodNotAllowed(req: ApiRequest): ApiResult {
  validate(McpName, req.params.connector, 'connector');
  return problem(
    405,
    'Method Not Allowed',
    'this MCP endpoint is stateless (no sessions, no server-initiated stream): send JSON-RPC with POST',
    { allow: 'POST' },
  );
}

export async function hostedMcp(req: ApiRequest, h: HostedDeps): Promise<ApiResult> {
  const auth = req.auth!;
  if (auth.principalType !== 'agent' || !auth.agentId)
    throw new ForbiddenError('only an agent (SVID) can use the MCP gateway');
  const name = validate(McpName, req.params.connector, 'connector');
  const caller = { tenantId: auth.tenantId, agentId: auth.agentId };
  const cfg = McpConfig.safeParse((await h.configs.getConfig(caller.tenantId, name)) ?? {});
  if (!cfg.success) throw new NotFoundError(`connector "${name}" is not configured as kind mcp`);
  if (!cfg.data.url)
    throw new UnprocessableError(
      `connector "${name}" has no url: the hosted gateway reaches upstreams over Streamable HTTP (PUT /v1/connectors/${name} {"config":{"kind":"mcp","url":…}}); run \`arx mcp-gateway\` for a command upstream`,
    );
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody);
  } catch {
    throw new ValidationError('the body is not JSON (a JSON-RPC message or batch)');
  }
  assertPortableJson(body, 'request body'); // no __proto__ keys reach the MCP server
  validate(McpRequest, body, 'body (a JSON-RPC 2.0 message or batch)');
  // An `initialize` is the client naming itself: discovery evidence of the MCP clients this agent
  // runs, reported beside the call (best effort, bounded: never fails or holds up the MCP call).
  const at = h.deps.clock.now().toISOString();
  const handshakes = handshakeEvidence(body, { agentId: caller.agentId, connector: name, at });
  const reported = handshakes.length
    ? reportEvidence(
        h.deps.events as StagedEventSink,
        evidenceEntries(caller.tenantId, 'mcp_handshake', `mcp:hosted:${name}`, handshakes, {
          traceId: traceFrom(req.headers.traceparent).traceId,
        }),
        at,
      )
    : Promise.resolve('none' as const);

  // The upstream's own credential from the connector's secret (bound to the url's origin), never
  // the agent's token: the request's headers other than the MCP ones are not passed on.
  let secret: Record<string, string> | null;
  try {
    secret = await readBoundSecret(h.deps.secrets, connectorSecretName(caller.tenantId, name), cfg.data);
  } catch (e) {
    if (e instanceof ConnectorError) throw new UnprocessableError(`connector "${name}": ${e.message}`);
    throw e;
  }
  const authHeader = (cfg.data.auth_header ?? 'authorization').toLowerCase();
  const upstreamHeaders: Record<string, string> = secret?.token
    ? { [authHeader]: authHeader === 'authorization' ? `Bearer ${secret.token}` : secret.token }
    : {};
  const gateway = await createMcpGateway({
    connector: name,
    upstream: { url: cfg.data.url, fetch: h.deps.fetch, headers: upstreamHeaders },
    arx: inProcessArx(h, auth, caller),
    holdMs: 0,
    pins: configPins(h, caller.tenantId),
    held: new DynamoHeldStore(h.controlTable, caller.tenantId, caller.agentId),
  });
  const headers = new Headers();
  for (const k of ['content-type', 'accept', 'mcp-protocol-version', 'last-event-id'])
    if (req.headers[k] !== undefined) headers.set(k, req.headers[k]);
  // 2026-07-28 requests mirror their method, name and declared parameters in headers (SEP-2243),
  // which the v2 server checks against the body.
  for (const [k, v] of Object.entries(req.headers))
    if ((k === 'mcp-method' || k === 'mcp-name' || k.startsWith('mcp-param-')) && v !== undefined) headers.set(k, v);
  let res: Response;
  try {
    res = await gateway.handleStateless(
      new Request(`https://arx.invalid/v1/mcp/${name}`, { method: 'POST', headers, body: req.rawBody }),
      body,
    );
  } catch (e) {
    await reported;
    // The upstream could not be reached or did not speak MCP: the agent's request was fine.
    return problem(
      502,
      'Bad Gateway',
      `the upstream MCP server of "${name}" could not be reached or failed (${(e as Error).name})`,
    );
  }
  const text = await res.text();
  await reported;
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k === 'content-type' || k === 'cache-control' || k === 'mcp-protocol-version') out[k] = v;
  });
  return { status: res.status, headers: out, raw: true, body: text };
}
