import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { NotFoundError } from '../../shared/errors.js';
import { handlerSettings } from '../../shared/settings.js';
import { routesOf } from '../../topology.js';
import { API_SETTINGS, apiDeps } from '../adapters/deps.js';
import { destinationProblem } from '../adapters/outbound.js';
import { createSubscription, getSubscription, listDeliveries, replay, viewOf } from '../core/subscriptions.js';
import type { CreateSubscriptionBody, DeliveriesQuery, ReplayBody } from '../schemas.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(API_SETTINGS);

const tenantOf = (req: ApiRequest) => req.auth!.tenantId;
const idOf = (req: ApiRequest) => req.params.id ?? '';

export const handler = createApiHandler(routesOf('streaming-api'), {
  'POST /v1/subscriptions': async (req: ApiRequest<CreateSubscriptionBody>) => ({
    status: 201,
    body: await createSubscription({ ...apiDeps(), urlProblem: destinationProblem }, tenantOf(req), req.body),
  }),
  'GET /v1/subscriptions': async (req) => ({
    status: 200,
    body: {
      items: (await apiDeps().store.listSubscriptions(tenantOf(req)))
        .sort((a, b) => a.created_at.localeCompare(b.created_at))
        .map(viewOf),
    },
  }),
  'GET /v1/subscriptions/{id}': async (req) => ({
    status: 200,
    body: viewOf(await getSubscription(apiDeps(), tenantOf(req), idOf(req))),
  }),
  'DELETE /v1/subscriptions/{id}': async (req) => {
    if (!(await apiDeps().store.deleteSubscription(tenantOf(req), idOf(req))))
      throw new NotFoundError(`subscription ${idOf(req)} not found`);
    return { status: 204 };
  },
  'GET /v1/subscriptions/{id}/deliveries': async (req: ApiRequest<unknown, DeliveriesQuery>) => ({
    status: 200,
    body: await listDeliveries(apiDeps(), tenantOf(req), idOf(req), req.query),
  }),
  'POST /v1/subscriptions/{id}/replay': async (req: ApiRequest<ReplayBody>) => ({
    status: 202,
    body: await replay(apiDeps(), tenantOf(req), idOf(req), req.body ?? {}),
  }),
});
