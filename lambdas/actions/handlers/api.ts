import { z } from 'zod';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../../shared/errors.js';
import { createApiHandler, validate, type ApiRequest, type ApiResult, type AuthContext } from '../../shared/http.js';
import { functionSpec, routesOf } from '../../topology.js';
import { IdempotencyInProgress, idempotentSubmit, parseIdempotencyKey } from '../core/idempotency.js';
import { DynamoIdempotencyStore } from '../adapters/dynamo-idempotency-store.js';
import { ACTIONS_SETTINGS, actionsDeps } from '../adapters/deps.js';
import { handlerSettings, perEnvironment, setting } from '../../shared/settings.js';
import {
  CHANNEL_SCHEMAS,
  channelConfigName,
  newLinkKey,
  newWebhookSecret,
  senderAllowed,
  type ChannelKind,
} from '../adapters/notifiers.js';
import { bindSecret, configOrigin } from '../core/guards.js';
import { channelSecretName, connectorSecretName, type ActionRecord, type SlackApproverMapping } from '../core/model.js';
import { actionView, approvalView } from '../core/service.js';
import { approvalStats } from '../core/stats.js';
import {
  SlackUserId,
  type ApprovalDecisionBody,
  type ChannelConfigBody,
  type ConnectorConfigBody,
  type ExecuteActionBody,
  type SlackApproverBody,
} from '../schemas.js';
import { connectorCatalog } from '../connectors/index.js';
import { assertActionInScope } from '../../identity/index.js';
import { acceptToolDefinition, toolPins } from '../connectors/mcp-accept.js';
import { hostedMcp, mcpMethodNotAllowed } from '../connectors/mcp-hosted.js';

const auth = (req: ApiRequest): AuthContext => req.auth!;

function agentOf(req: ApiRequest): { tenantId: string; agentId: string; spiffeId?: string } {
  const a = auth(req);
  if (a.principalType !== 'agent' || !a.agentId)
    throw new ForbiddenError('only an agent (SVID) can request a governed action');
  return { tenantId: a.tenantId, agentId: a.agentId, ...(a.spiffeId ? { spiffeId: a.spiffeId } : {}) };
}

/** 200 executed · 202 pending_approval · 403 denied or cancelled · 502 failed (the connector failed; nothing is retried silently). */
function submitted(a: ActionRecord, traceparent: string) {
  const headers = { traceparent };
  const common = {
    action_id: a.action_id,
    correlation_id: a.correlation_id,
    trace_id: a.trace_id,
    decision: a.decision,
  };
  switch (a.status) {
    case 'executed':
      return {
        status: 200,
        headers,
        body: {
          ...common,
          status: 'executed',
          result: a.result ?? null,
          approval_metadata: a.approval_metadata ?? null,
        },
      };
    case 'pending_approval':
      return {
        status: 202,
        headers,
        body: { ...common, status: 'pending_approval', approval_id: a.approval_id, expires_at: a.expires_at },
      };
    case 'denied':
      return { status: 403, headers, body: { ...common, status: 'denied' } };
    case 'cancelled':
      // the agent is not active in the inventory (F21b): refused, nothing ran
      return { status: 403, headers, body: { ...common, status: 'cancelled', error: a.error ?? null } };
    default:
      return { status: 502, headers, body: { ...common, status: a.status, error: a.error ?? null } };
  }
}

const ConnectorName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/);

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(ACTIONS_SETTINGS, ['ARX_TRACES_TABLE']);

export const handler = createApiHandler(routesOf('actions-api'), {
  'POST /v1/actions': async (req: ApiRequest<ExecuteActionBody>) => {
    assertActionInScope(req.auth, req.body.connector, req.body.operation); // F19: SVID scope
    const { service } = actionsDeps();
    const caller = agentOf(req);
    const key = parseIdempotencyKey(req.headers['idempotency-key']);
    if (key)
      return idempotentPost(caller, key, req, (id) =>
        service.submit(caller, req.body, req.trace, id).then((o) => o.action),
      );
    const out = await service.submit(caller, req.body, req.trace);
    return submitted(out.action, req.trace.traceparent);
  },

  'GET /v1/actions/{id}': async (req: ApiRequest<unknown, { wait?: number }>) => {
    const a = auth(req);
    const reader =
      a.principalType === 'agent' ? { tenantId: a.tenantId, agentId: a.agentId ?? '\u0000' } : { tenantId: a.tenantId };
    const action = await actionsDeps().service.get(reader, req.params.id!, req.query.wait ?? 0);
    return { status: 200, body: actionView(action) };
  },

  'GET /v1/approvals': async (req: ApiRequest<unknown, { status?: 'pending'; limit?: number }>) => {
    const items = await actionsDeps().service.listApprovals(auth(req).tenantId, req.query);
    return { status: 200, body: { items: items.map(approvalView) } };
  },

  'GET /v1/approvals/stats': async (req: ApiRequest<unknown, { since?: string }>) => {
    const items = await actionsDeps().service.listApprovals(
      auth(req).tenantId,
      req.query.since ? { since: req.query.since } : {},
    );
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
    return { status: 200, body: { items: [...deps.connectors.values()].map(connectorCatalog) } };
  },

  'GET /v1/connectors/{connector}/operations': async (req: ApiRequest) => {
    const name = validate(ConnectorName, req.params.connector, 'connector');
    const connector = actionsDeps().deps.connectors.get(name);
    if (!connector) throw new NotFoundError(`unknown connector "${name}"`);
    return { status: 200, body: connectorCatalog(connector) };
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
      // F12a: the secret is bound to the origin it is configured for, and only ever sent there.
      await secrets.put(
        connectorSecretName(tenantId, name),
        bindSecret(validate(connector.secretSchema, req.body.secret, 'secret'), config),
      );
    } else {
      const before = configOrigin(await store.getConfig(tenantId, name));
      const after = configOrigin(config);
      if (before !== after && (await secrets.get(connectorSecretName(tenantId, name)))) {
        throw new ConflictError(
          `base_url changes the origin from ${before ?? '(none)'} to ${after ?? '(none)'}; send the secret again: the stored one is only sent to ${before ?? 'its origin'}`,
        );
      }
    }
    await store.putConfig(tenantId, name, config, deps.clock.now().toISOString());
    await audited(req, `connector.configured`, `${name}`);
    return { status: 200, body: { connector: name, configured: true, secret_stored: Boolean(req.body.secret) } };
  },

  'GET /v1/connectors/{connector}/tools/pins': (req) => toolPins(req, actionsDeps().store),
  'POST /v1/connectors/{connector}/tools/{tool}/accept': (req) =>
    acceptToolDefinition(req, actionsDeps().store, audited),

  'POST /v1/mcp/{connector}': (req) => {
    const { service, deps, store } = actionsDeps();
    return hostedMcp(req, { service, deps, configs: store, controlTable: setting('ARX_CONTROL_TABLE') });
  },
  'GET /v1/mcp/{connector}': async (req) => mcpMethodNotAllowed(req),
  'DELETE /v1/mcp/{connector}': async (req) => mcpMethodNotAllowed(req),

  'PUT /v1/approvals/channels/{channel}': async (req: ApiRequest<ChannelConfigBody>) => {
    const { deps, secrets, store, senders } = actionsDeps();
    const kind = req.params.channel as ChannelKind;
    if (!Object.hasOwn(CHANNEL_SCHEMAS, kind)) throw new NotFoundError(`unknown channel "${req.params.channel}"`);
    const schema = CHANNEL_SCHEMAS[kind];
    const tenantId = auth(req).tenantId;
    const config = validate(schema.config as z.ZodType<Record<string, unknown>>, req.body.config, 'config');
    // F23: the sender must be one of the tenant's allowed SES identities (set by the operator).
    if (kind === 'email' && !senderAllowed(senders(tenantId), String(config.from))) {
      throw new UnprocessableError(
        `"${String(config.from)}" is not an allowed sender identity of this tenant (ARX_SES_SENDERS)`,
      );
    }
    const name = channelSecretName(tenantId, kind);
    let stored = false;
    let issued: string | undefined;
    if (schema.secret === null) {
      // F4: ARX generates the e-mail link key and the webhook HMAC secret; a caller-chosen one is refused.
      if (req.body.secret)
        throw new ValidationError(
          `the ${kind} channel's secret is generated by ARX; omit "secret" (use rotate_secret:true to replace it)`,
          [{ path: 'secret', message: 'not accepted' }],
        );
      const field = kind === 'email' ? 'link_key' : 'hmac_secret';
      if (req.body.rotate_secret || !(await secrets.get(name))?.[field]) {
        const value = kind === 'email' ? newLinkKey() : newWebhookSecret();
        await secrets.put(name, { [field]: value });
        stored = true;
        if (kind === 'webhook') issued = value; // the receiving system needs it: shown once, never again
      }
    } else {
      if (req.body.rotate_secret)
        throw new ValidationError(`the ${kind} channel's secret comes from ${kind}; send it in "secret"`, [
          { path: 'rotate_secret', message: 'not accepted' },
        ]);
      if (req.body.secret) {
        await secrets.put(
          name,
          validate(schema.secret as z.ZodType<Record<string, string>>, req.body.secret, 'secret'),
        );
        stored = true;
      } else if (!(await secrets.get(name))) {
        throw new ValidationError(`the ${kind} channel needs a secret`);
      }
    }
    await store.putConfig(tenantId, channelConfigName(kind), config, deps.clock.now().toISOString());
    await audited(req, stored ? 'approval.channel.secret_changed' : 'approval.channel.configured', kind);
    return {
      status: 200,
      body: { channel: kind, configured: true, secret_stored: stored, ...(issued ? { hmac_secret: issued } : {}) },
    };
  },

  'PUT /v1/approvals/channels/slack/approvers/{slack_user_id}': async (req: ApiRequest<SlackApproverBody>) => {
    const { deps, store } = actionsDeps();
    const a = auth(req);
    const slackUserId = validate(SlackUserId, req.params.slack_user_id, 'slack_user_id');
    const mapping: SlackApproverMapping = {
      tenant_id: a.tenantId,
      slack_user_id: slackUserId,
      ...(req.body.team_id ? { team_id: req.body.team_id } : {}),
      approver_sub: req.body.approver_sub,
      ...(req.body.approver_email ? { approver_email: req.body.approver_email } : {}),
      status: 'pending_confirmation',
      created_by: a.subject,
      created_at: deps.clock.now().toISOString(),
    };
    await store.putSlackApprover(mapping);
    await audited(req, 'approval.slack_approver.mapped', slackUserId);
    return { status: 200, body: mapping };
  },

  'POST /v1/approvals/channels/slack/approvers/{slack_user_id}/confirm': async (req) => {
    const { deps, store } = actionsDeps();
    const a = auth(req);
    const slackUserId = validate(SlackUserId, req.params.slack_user_id, 'slack_user_id');
    const m = await store.getSlackApprover(a.tenantId, slackUserId);
    if (!m) throw new NotFoundError(`no mapping for Slack user ${slackUserId}`);
    if (m.approver_sub !== a.subject) throw new ForbiddenError('only the approver the mapping names may confirm it');
    const confirmed: SlackApproverMapping = {
      ...m,
      status: 'active',
      confirmed_at: deps.clock.now().toISOString(),
      ...(a.email ? { approver_email: a.email } : {}),
    };
    await store.putSlackApprover(confirmed);
    await audited(req, 'approval.slack_approver.confirmed', slackUserId);
    return { status: 200, body: confirmed };
  },
});

/** A keyed POST /v1/actions: the first outcome for a retry, 422 for another request, 409 + Retry-After while the first runs. */
async function idempotentPost(
  caller: { tenantId: string; agentId: string },
  key: string,
  req: ApiRequest<ExecuteActionBody>,
  submit: (actionId: string) => Promise<ActionRecord>,
): Promise<ApiResult> {
  const { store } = actionsDeps();
  try {
    const action = await idempotentSubmit(
      {
        store: idempotencyStore(),
        now: () => new Date(),
        getAction: (t, id) => store.getAction(t, id),
        staleAfterMs: ((functionSpec('actions-api').timeoutSeconds ?? 10) + 5) * 1000,
      },
      { tenantId: caller.tenantId, agentId: caller.agentId, key, body: req.body },
      submit,
    );
    return {
      ...submitted(action, req.trace.traceparent),
      headers: { traceparent: req.trace.traceparent, 'idempotency-key': key },
    };
  } catch (e) {
    if (!(e instanceof IdempotencyInProgress)) throw e;
    return {
      status: 409,
      headers: { 'content-type': 'application/problem+json', 'retry-after': String(e.retryAfterS) },
      body: {
        type: 'https://arx.dev/problems/idempotency-in-progress',
        title: 'Request in progress',
        status: 409,
        detail: e.message,
        action_id: e.actionId,
      },
    };
  }
}
const idempotencyStore = perEnvironment(() => new DynamoIdempotencyStore(setting('ARX_CONTROL_TABLE')));

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
