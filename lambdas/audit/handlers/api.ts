import { NotFoundError } from '../../shared/errors.js';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { TENANT_ID } from '../../shared/ids.js';
import { routesOf } from '../../topology.js';
import { AUDIT_READ_SETTINGS, auditReadDeps } from '../adapters/deps.js';
import { handlerSettings, optionalSetting } from '../../shared/settings.js';
import { addDestination, chainStatus, getBlock, listBlocks, proofOf } from '../core/read.js';
import type { BlocksQuery, DestinationBody, EventsQuery } from '../schemas.js';

const deps = () => ({ ...auditReadDeps(), tsaConfigured: Boolean(optionalSetting('ARX_TSA_URL')) });

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(AUDIT_READ_SETTINGS, ['ARX_TSA_URL']);

export const handler = createApiHandler(routesOf('audit-api'), {
  // Public, like the tenant JWKS: every audit key ever used, so any block verifies offline (F8).
  'GET /tenants/{tenant_id}/.well-known/audit-keys.json': async (req) => {
    const tenant = req.params.tenant_id ?? '';
    if (!TENANT_ID.test(tenant)) throw new NotFoundError('no such tenant');
    const body = JSON.stringify(await auditReadDeps().auditKeys.keySet(tenant));
    return {
      status: 200,
      body,
      raw: true,
      headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' },
    };
  },
  'GET /v1/audit/chain/status': async (req) => ({ status: 200, body: await chainStatus(deps(), req.auth!.tenantId) }),
  'GET /v1/audit/events': async (req: ApiRequest<unknown, EventsQuery>) => {
    const q = req.query;
    const page = await deps().events.listEvents(req.auth!.tenantId, {
      limit: q.limit ?? 50,
      ...(q.agent_id ? { agentId: q.agent_id } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.next_token ? { nextToken: q.next_token } : {}),
    });
    return { status: 200, body: page };
  },
  'GET /v1/audit/events/{event_id}/proof': async (req) => ({
    status: 200,
    body: await proofOf(deps(), req.auth!.tenantId, req.params.event_id ?? ''),
  }),
  'GET /v1/audit/blocks': async (req: ApiRequest<unknown, BlocksQuery>) => ({
    status: 200,
    body: await listBlocks(deps(), req.auth!.tenantId, req.query.from_height ?? 1, req.query.limit ?? 50),
  }),
  'GET /v1/audit/blocks/{id}': async (req) => ({
    status: 200,
    body: await getBlock(deps(), req.auth!.tenantId, req.params.id ?? ''),
  }),
  'POST /v1/audit/destinations': async (req: ApiRequest<DestinationBody>) => {
    const d = deps();
    const dest = await addDestination({ store: d.destinations, clock: d.clock }, req.auth!.tenantId, req.body);
    return { status: 201, body: dest, headers: { location: `/v1/audit/destinations/${dest.destination_id}` } };
  },
  'GET /v1/audit/destinations': async (req) => {
    const d = deps();
    const [items, queued] = await Promise.all([
      d.destinations.list(req.auth!.tenantId),
      d.destinations.queueDepth(req.auth!.tenantId),
    ]);
    return { status: 200, body: { items, queued_writes: queued } };
  },
});
