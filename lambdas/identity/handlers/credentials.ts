import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../shared/errors.js';
import {
  allowTokenEndpoint,
  registerRole,
  removeRole,
  removeTokenEndpoint,
  REGISTRY_NAME,
  type RegistryAdminDeps,
  type RegistryCaller,
} from '../core/credential-registry.js';
import { routesOf } from '../../topology.js';
import { BROKER_SETTINGS, credentialBrokerFromEnv } from '../broker.js';
import type {
  IssueCredentialBody,
  PutCredentialRoleBody,
  PutTokenEndpointBody,
  RevokeCredentialsBody,
} from '../schemas.js';
import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { systemClock } from '../../shared/clock.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore } from '../adapters/dynamo-inventory-store.js';
import { awsActionScope, DynamoActionStore } from '../../actions/index.js';
import { AUDIT_SINK_SETTINGS, createAuditSink } from '../../audit/index.js';
import { getAgent } from '../core/agents.js';
import { DynamoCredentialRegistry } from '../adapters/credential-registry.js';
import type { AllowedTokenEndpoint, RegisteredRole } from '../core/broker.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(
  ['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE'],
  BROKER_SETTINGS,
  AUDIT_SINK_SETTINGS,
);
/** Read-only inventory: this function only checks the agent exists in the caller's tenant. */
const inventory = perEnvironment(() => {
  const c = readSettings(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE']);
  const readOnly = new Outbox(c.ARX_CONTROL_TABLE, {
    publish: async () => {
      throw new Error('identity-credentials does not write the inventory');
    },
  });
  return new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, readOnly);
});
const registry = perEnvironment(
  () => new DynamoCredentialRegistry(readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE),
);
const actions = perEnvironment(() => new DynamoActionStore(readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE));
const audit = perEnvironment(() => createAuditSink());

/** Actions a credential may be issued for: permitted (autonomously or approved) and not finished. */
const ISSUABLE = new Set(['pending_execution', 'executing']);
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function registryName(req: ApiRequest): string {
  const name = req.params.name ?? '';
  if (!REGISTRY_NAME.test(name)) throw new NotFoundError('no such entry');
  return name;
}

const adminDeps = perEnvironment(
  (): RegistryAdminDeps => ({
    registry: registry(),
    audit: audit(),
    clock: systemClock,
    allowLoopback: credentialBrokerFromEnv().allowsLoopback(),
  }),
);
const caller = (req: ApiRequest): RegistryCaller => ({
  tenantId: req.auth!.tenantId,
  subject: req.auth!.subject,
  correlationId: req.headers['x-correlation-id'] ?? req.trace.traceId,
  traceId: req.trace.traceId,
});

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
    let issued: unknown;
    if (t.kind === 'aws') {
      // F1: the scope comes from a permitted action of this agent, never from the caller.
      if (!req.body.action_id)
        throw new ValidationError(
          'action_id is required for aws targets (the scope is derived from the permitted action)',
        );
      const action = await actions().getAction(tenantId, req.body.action_id);
      if (!action || action.agent_id !== req.body.agent_id) throw new NotFoundError('no such action for this agent');
      if (action.connector !== 'aws' || !ISSUABLE.has(action.status) || action.decision.effect !== 'permit') {
        throw new ForbiddenError(
          'the action is not a permitted aws action awaiting execution; no credential is issued',
        );
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
    const role = await registerRole(adminDeps(), caller(req), req.params.name ?? '', req.body);
    return { status: 200, body: await roleView(role), headers: NO_STORE };
  },
  'DELETE /v1/credentials/roles/{name}': async (req) => {
    await removeRole(adminDeps(), caller(req), registryName(req));
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
  'PUT /v1/credentials/token-endpoints/{name}': async (req: ApiRequest<PutTokenEndpointBody>) => ({
    status: 200,
    body: endpointView(await allowTokenEndpoint(adminDeps(), caller(req), req.params.name ?? '', req.body)),
  }),
  'DELETE /v1/credentials/token-endpoints/{name}': async (req) => {
    await removeTokenEndpoint(adminDeps(), caller(req), registryName(req));
    return { status: 204 };
  },
});
