import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { routesOf } from '../../topology.js';
import { credentialBrokerFromEnv } from '../broker.js';
import { REGISTRY_NAME, type IssueCredentialBody, type PutCredentialRoleBody, type PutTokenEndpointBody, type RevokeCredentialsBody } from '../schemas.js';
import { lazyConfig, readConfig } from '../../shared/config.js';
import { systemClock } from '../../shared/clock.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore } from '../../discovery/adapters/dynamo-inventory-store.js';
import { DynamoActionStore } from '../../actions/adapters/dynamo-action-store.js';
import { awsActionScope } from '../../actions/connectors/aws.js';
import { createAuditSink } from '../../audit/sink.js';
import { getAgent } from '../core/agents.js';
import { DynamoCredentialRegistry } from '../adapters/credential-registry.js';
import type { AllowedTokenEndpoint, RegisteredRole } from '../core/broker.js';

/** Read-only inventory: this function only checks the agent exists in the caller's tenant. */
const inventory = lazyConfig(() => {
  const c = readConfig(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE']);
  const readOnly = new Outbox(c.ARX_CONTROL_TABLE, {
    publish: async () => {
      throw new Error('identity-credentials does not write the inventory');
    },
  });
  return new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, readOnly);
});
const registry = lazyConfig(() => new DynamoCredentialRegistry(readConfig(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE));
const actions = lazyConfig(() => new DynamoActionStore(readConfig(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE));
const audit = lazyConfig(() => createAuditSink());

/** Actions a credential may be issued for: permitted (autonomously or approved) and not finished. */
const ISSUABLE = new Set(['pending_execution', 'executing']);
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function registryName(req: ApiRequest): string {
  const name = req.params.name ?? '';
  if (!REGISTRY_NAME.test(name)) throw new NotFoundError('no such entry');
  return name;
}

/**
 * Records an administrative change of the credential registry in the audit chain. The change is
 * written first; when the audit record cannot be written, `undo` restores the previous state and
 * the request fails (503), so no unaudited change stays.
 */
async function audited(req: ApiRequest, eventType: string, target: string, payload: Record<string, unknown>, undo: () => Promise<unknown>): Promise<void> {
  try {
    await audit().record({
      tenant_id: req.auth!.tenantId,
      event_type: eventType,
      action: eventType,
      target,
      occurred_at: systemClock.now().toISOString(),
      correlation_id: req.headers['x-correlation-id'] ?? req.trace.traceId,
      trace_id: req.trace.traceId,
      payload: { ...payload, actor: req.auth!.subject },
    });
  } catch (e) {
    await undo().catch(() => undefined);
    throw e;
  }
}

const roleView = async (r: RegisteredRole) => ({
  name: r.name,
  role_arn: r.role_arn,
  ...(r.description ? { description: r.description } : {}),
  /** Put this in the role's trust policy (sts:ExternalId); ARX generated it for the tenant. */
  external_id: await registry().externalId(r.tenant_id),
  updated_at: r.updated_at,
  updated_by: r.updated_by,
});
const endpointView = (e: AllowedTokenEndpoint) => ({
  name: e.name,
  token_endpoint: e.token_endpoint,
  ...(e.revocation_endpoint ? { revocation_endpoint: e.revocation_endpoint } : {}),
  updated_at: e.updated_at,
  updated_by: e.updated_by,
});

/**
 * `POST /v1/credentials/issue` (server to server, after a permit) and the per-tenant credential
 * registry. The tenant is the caller's; responses are never cached by intermediaries.
 */
export const handler = createApiHandler(routesOf('identity-credentials'), {
  'POST /v1/credentials/issue': async (req: ApiRequest<IssueCredentialBody>) => {
    const tenantId = req.auth!.tenantId;
    // Another tenant's (or an unknown) agent is a 404; status is checked by the broker's gate.
    await getAgent({ inventory: inventory() }, tenantId, req.body.agent_id);
    const broker = credentialBrokerFromEnv();
    const t = req.body.target;
    let issued;
    if (t.kind === 'aws') {
      // F1: the scope comes from a permitted action of this agent, never from the caller.
      if (!req.body.action_id) throw new ValidationError('action_id is required for aws targets (the scope is derived from the permitted action)');
      const action = await actions().getAction(tenantId, req.body.action_id);
      if (!action || action.agent_id !== req.body.agent_id) throw new NotFoundError('no such action for this agent');
      if (action.connector !== 'aws' || !ISSUABLE.has(action.status) || action.decision.effect !== 'permit') {
        throw new ForbiddenError('the action is not a permitted aws action awaiting execution; no credential is issued');
      }
      const scope = awsActionScope(action.operation, action.params);
      if (!scope) throw new ForbiddenError('the action has no known IAM scope; no credential is issued');
      issued = (
        await broker.issueAws({
          tenantId,
          agentId: req.body.agent_id,
          actionId: action.action_id,
          actions: scope.actions,
          resources: scope.resources,
          ...(t.role ? { roleName: t.role } : {}),
        })
      ).issued;
    } else {
      issued = await broker.issueOAuth({
        tenantId,
        agentId: req.body.agent_id,
        tokenEndpoint: t.token_endpoint,
        clientId: t.client_id,
        clientSecretId: t.client_secret_id,
        resource: t.resource,
        ...(t.scope ? { scope: t.scope } : {}),
      });
    }
    return { status: 200, body: issued, headers: NO_STORE };
  },
  'POST /v1/credentials/revoke': async (req: ApiRequest<RevokeCredentialsBody>) => ({
    status: 200,
    body: await credentialBrokerFromEnv().revokeAgentCredentials(req.auth!.tenantId, req.body.agent_id),
  }),

  'GET /v1/credentials/roles': async (req) => ({
    status: 200,
    body: { items: await Promise.all((await registry().listRoles(req.auth!.tenantId)).map(roleView)) },
    headers: NO_STORE,
  }),
  'GET /v1/credentials/roles/{name}': async (req) => {
    const r = await registry().roleByName(req.auth!.tenantId, registryName(req));
    if (!r) throw new NotFoundError('no such role');
    return { status: 200, body: await roleView(r), headers: NO_STORE };
  },
  'PUT /v1/credentials/roles/{name}': async (req: ApiRequest<PutCredentialRoleBody>) => {
    const tenantId = req.auth!.tenantId;
    const name = registryName(req);
    const shared = process.env.ARX_CREDENTIAL_ROLE_ARN;
    if (shared && req.body.role_arn === shared) throw new ValidationError('the shared default role (ARX_CREDENTIAL_ROLE_ARN) cannot be registered to a tenant');
    const role: RegisteredRole = {
      tenant_id: tenantId,
      name,
      role_arn: req.body.role_arn,
      ...(req.body.description ? { description: req.body.description } : {}),
      updated_at: systemClock.now().toISOString(),
      updated_by: req.auth!.subject,
    };
    const { previous } = await registry().putRole(role);
    await audited(req, 'identity.credential_role.registered', name, { name, role_arn: role.role_arn, previous_role_arn: previous?.role_arn ?? null }, () =>
      previous ? registry().putRole(previous) : registry().deleteRole(tenantId, name),
    );
    return { status: 200, body: await roleView(role), headers: NO_STORE };
  },
  'DELETE /v1/credentials/roles/{name}': async (req) => {
    const tenantId = req.auth!.tenantId;
    const name = registryName(req);
    const previous = await registry().deleteRole(tenantId, name);
    if (!previous) throw new NotFoundError('no such role');
    await audited(req, 'identity.credential_role.deleted', name, { name, role_arn: previous.role_arn }, () => registry().putRole(previous));
    return { status: 204 };
  },

  'GET /v1/credentials/token-endpoints': async (req) => ({
    status: 200,
    body: { items: (await registry().listTokenEndpoints(req.auth!.tenantId)).map(endpointView) },
  }),
  'GET /v1/credentials/token-endpoints/{name}': async (req) => {
    const e = await registry().getTokenEndpoint(req.auth!.tenantId, registryName(req));
    if (!e) throw new NotFoundError('no such token endpoint');
    return { status: 200, body: endpointView(e) };
  },
  'PUT /v1/credentials/token-endpoints/{name}': async (req: ApiRequest<PutTokenEndpointBody>) => {
    const tenantId = req.auth!.tenantId;
    const name = registryName(req);
    for (const u of [req.body.token_endpoint, req.body.revocation_endpoint]) {
      if (u !== undefined && !u.startsWith('https://') && !(credentialBrokerFromEnv().allowsLoopback() && /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u))) {
        throw new ValidationError('token and revocation endpoints must be https URLs');
      }
      if (u !== undefined && u.includes('#')) throw new ValidationError('endpoints must not carry a fragment');
    }
    const previous = await registry().getTokenEndpoint(tenantId, name);
    const entry: AllowedTokenEndpoint = {
      tenant_id: tenantId,
      name,
      token_endpoint: req.body.token_endpoint,
      ...(req.body.revocation_endpoint ? { revocation_endpoint: req.body.revocation_endpoint } : {}),
      updated_at: systemClock.now().toISOString(),
      updated_by: req.auth!.subject,
    };
    await registry().putTokenEndpoint(entry);
    await audited(req, 'identity.token_endpoint.allowed', name, { name, token_endpoint: entry.token_endpoint, revocation_endpoint: entry.revocation_endpoint ?? null }, () =>
      previous ? registry().putTokenEndpoint(previous) : registry().deleteTokenEndpoint(tenantId, name),
    );
    return { status: 200, body: endpointView(entry) };
  },
  'DELETE /v1/credentials/token-endpoints/{name}': async (req) => {
    const tenantId = req.auth!.tenantId;
    const name = registryName(req);
    const previous = await registry().deleteTokenEndpoint(tenantId, name);
    if (!previous) throw new NotFoundError('no such token endpoint');
    await audited(req, 'identity.token_endpoint.removed', name, { name, token_endpoint: previous.token_endpoint }, () => registry().putTokenEndpoint(previous));
    return { status: 204 };
  },
});
