import { z } from 'zod';
import { ForbiddenError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { createApiHandler, validate, type ApiRequest, type AuthContext } from '../../shared/http.js';
import { routesOf } from '../../topology.js';
import { actionsDeps } from '../adapters/deps.js';
import { CHANNEL_SCHEMAS, channelConfigName, newLinkKey, type ChannelKind } from '../adapters/notifiers.js';
import { channelSecretName, connectorSecretName, type ActionRecord } from '../core/model.js';
import { actionView, approvalView } from '../core/service.js';
import { approvalStats } from '../core/stats.js';
import type { ApprovalDecisionBody, ConnectorConfigBody, ExecuteActionBody } from '../schemas.js';
import { acceptToolDefinition, toolPins } from '../connectors/mcp-accept.js';

const auth = (req: ApiRequest): AuthContext => req.auth!;

function agentOf(req: ApiRequest): { tenantId: string; agentId: string; spiffeId?: string } {
  const a = auth(req);
  if (a.principalType !== 'agent' || !a.agentId) throw new ForbiddenError('only an agent (SVID) can request a governed action');
  return { tenantId: a.tenantId, agentId: a.agentId, ...(a.spiffeId ? { spiffeId: a.spiffeId } : {}) };
}

/** 200 executed · 202 pending_approval · 403 denied · 502 failed (the connector failed; nothing is retried silently). */
function submitted(a: ActionRecord, traceparent: string) {
  const headers = { traceparent };
  const common = { action_id: a.action_id, correlation_id: a.correlation_id, trace_id: a.trace_id, decision: a.decision };
  switch (a.status) {
    case 'executed':
      return { status: 200, headers, body: { ...common, status: 'executed', result: a.result ?? null, approval_metadata: a.approval_metadata ?? null } };
    case 'pending_approval':
      return { status: 202, headers, body: { ...common, status: 'pending_approval', approval_id: a.approval_id, expires_at: a.expires_at } };
    case 'denied':
      return { status: 403, headers, body: { ...common, status: 'denied' } };
    default:
      return { status: 502, headers, body: { ...common, status: a.status, error: a.error ?? null } };
  }
}

const ConnectorName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/);

export const handler = createApiHandler(routesOf('actions-api'), {
  'POST /v1/actions': async (req: ApiRequest<ExecuteActionBody>) => {
    const { service } = actionsDeps();
    const out = await service.submit(agentOf(req), req.body, req.trace);
    return submitted(out.action, req.trace.traceparent);
  },

  'GET /v1/actions/{id}': async (req: ApiRequest<unknown, { wait?: number }>) => {
    const a = auth(req);
    const reader = a.principalType === 'agent' ? { tenantId: a.tenantId, agentId: a.agentId ?? '\u0000' } : { tenantId: a.tenantId };
    const action = await actionsDeps().service.get(reader, req.params.id!, req.query.wait ?? 0);
    return { status: 200, body: actionView(action) };
  },

  'GET /v1/approvals': async (req: ApiRequest<unknown, { status?: 'pending'; limit?: number }>) => {
    const items = await actionsDeps().service.listApprovals(auth(req).tenantId, req.query);
    return { status: 200, body: { items: items.map(approvalView) } };
  },

  'GET /v1/approvals/stats': async (req: ApiRequest<unknown, { since?: string }>) => {
    const items = await actionsDeps().service.listApprovals(auth(req).tenantId, req.query.since ? { since: req.query.since } : {});
    return { status: 200, body: approvalStats(items) };
  },

  'GET /v1/approvals/{id}': async (req) => {
    const a = await actionsDeps().service.getApproval(auth(req).tenantId, req.params.id!);
    return { status: 200, body: approvalView(a) };
  },

  'POST /v1/approvals/{id}/decision': async (req: ApiRequest<ApprovalDecisionBody>) => {
    const a = auth(req);
    const r = await actionsDeps().service.decide(
      a.tenantId,
      req.params.id!,
      {
        id: a.subject,
        display: a.email ?? a.subject,
        principalType: a.principalType,
        ...(a.agentId ? { agentId: a.agentId } : {}),
        ...(a.email ? { email: a.email } : {}),
        via: 'api',
      },
      req.body.decision,
      req.body.reason,
    );
    return { status: 200, body: { approval: approvalView(r.approval), action: actionView(r.action) } };
  },

  'GET /v1/connectors': async () => {
    const { deps } = actionsDeps();
    const items = [...deps.connectors.values()].map((c) => ({
      name: c.name,
      description: c.description,
      operations: Object.entries(c.operations).map(([name, op]) => ({ name, action: `${c.name}:${name}`, description: op.description, params: z.toJSONSchema(op.params, { unrepresentable: 'any' }) })),
    }));
    return { status: 200, body: { items } };
  },

  'PUT /v1/connectors/{connector}': async (req: ApiRequest<ConnectorConfigBody>) => {
    const { deps, secrets, store } = actionsDeps();
    const name = validate(ConnectorName, req.params.connector, 'connector');
    const connector = deps.connectors.get(name);
    if (!connector) throw new NotFoundError(`unknown connector "${name}"`);
    const config = validate(connector.configSchema, req.body.config, 'config');
    const tenantId = auth(req).tenantId;
    if (req.body.secret) {
      if (!connector.secretSchema) throw new ValidationError(`connector "${name}" takes no secret`);
      await secrets.put(connectorSecretName(tenantId, name), validate(connector.secretSchema, req.body.secret, 'secret'));
    }
    await store.putConfig(tenantId, name, config, deps.clock.now().toISOString());
    await audited(req, `connector.configured`, `${name}`);
    return { status: 200, body: { connector: name, configured: true, secret_stored: Boolean(req.body.secret) } };
  },

  'GET /v1/connectors/{connector}/tools/pins': (req) => toolPins(req, actionsDeps().store),
  'POST /v1/connectors/{connector}/tools/{tool}/accept': (req) => acceptToolDefinition(req, actionsDeps().store, audited),

  'PUT /v1/approvals/channels/{channel}': async (req: ApiRequest<ConnectorConfigBody>) => {
    const { deps, secrets, store } = actionsDeps();
    const kind = req.params.channel as ChannelKind;
    if (!Object.prototype.hasOwnProperty.call(CHANNEL_SCHEMAS, kind)) throw new NotFoundError(`unknown channel "${req.params.channel}"`);
    const schema = CHANNEL_SCHEMAS[kind];
    const tenantId = auth(req).tenantId;
    const config = validate(schema.config as z.ZodType<Record<string, unknown>>, req.body.config, 'config');
    let stored = false;
    if (req.body.secret) {
      await secrets.put(channelSecretName(tenantId, kind), validate(schema.secret as z.ZodType<Record<string, string>>, req.body.secret, 'secret'));
      stored = true;
    } else if (kind === 'email') {
      if (!(await secrets.get(channelSecretName(tenantId, 'email')))?.link_key) {
        await secrets.put(channelSecretName(tenantId, 'email'), { link_key: newLinkKey() });
        stored = true;
      }
    } else if (!(await secrets.get(channelSecretName(tenantId, kind)))) {
      throw new ValidationError(`the ${kind} channel needs a secret`);
    }
    await store.putConfig(tenantId, channelConfigName(kind), config, deps.clock.now().toISOString());
    await audited(req, 'approval.channel.configured', kind);
    return { status: 200, body: { channel: kind, configured: true, secret_stored: stored } };
  },
});

/** Administrative changes are audited (never with the secret); failure refuses nothing already stored but is logged. */
async function audited(req: ApiRequest, eventType: string, target: string): Promise<void> {
  const { deps } = actionsDeps();
  const a = auth(req);
  try {
    await deps.audit.record({
      tenant_id: a.tenantId,
      event_type: eventType,
      action: eventType,
      target,
      decision: 'configured',
      occurred_at: deps.clock.now().toISOString(),
      correlation_id: req.requestId,
      trace_id: req.trace.traceId,
      payload: { actor: a.subject, target },
    });
  } catch (e) {
    deps.log.error('audit of a configuration change failed', { event_type: eventType, error_name: (e as Error).name });
  }
}
