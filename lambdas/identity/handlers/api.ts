import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { routesOf } from '../../topology.js';
import type { RegisterAgentBody } from '../schemas.js';
import { getAgent, registerAgent, toIdentity } from '../core/agents.js';
import { identityDeps } from '../adapters/deps.js';

const traceIds = (req: ApiRequest) => ({
  correlationId: req.headers['x-correlation-id'] ?? req.trace.traceId,
  traceId: req.trace.traceId,
});

export const handler = createApiHandler(routesOf('identity-api'), {
  'POST /v1/identity/agents': async (req: ApiRequest<RegisterAgentBody>) => {
    const auth = req.auth!;
    const out = await registerAgent(identityDeps(), { tenantId: auth.tenantId, subject: auth.subject }, req.body, traceIds(req));
    return { status: 201, body: out, headers: { location: `/v1/identity/agents/${out.agent_id}`, 'cache-control': 'no-store' } };
  },
  'GET /v1/identity/agents/{id}': async (req) => {
    const rec = await getAgent(identityDeps(), req.auth!.tenantId, req.params.id ?? '');
    return { status: 200, body: toIdentity(rec) };
  },
});
