import { lazyConfig, readConfig } from '../../shared/config.js';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { routesOf } from '../../topology.js';
import { toIdentity } from '../../identity/core/agents.js';
import { DynamoInventoryStore } from '../adapters/dynamo-inventory-store.js';
import type { ListAgentsQuery } from '../schemas.js';

const store = lazyConfig(() => {
  const c = readConfig(['ARX_INVENTORY_TABLE']);
  // Read-only use: the outbox is never written through this instance.
  return new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, '', new Outbox('', new EventBridgePublisher('')));
});

export const handler = createApiHandler(routesOf('discovery-api'), {
  'GET /v1/discovery/agents': async (req: ApiRequest<unknown, ListAgentsQuery>) => {
    const { limit = 50, next_token, ...filter } = req.query;
    const page = await store().list(req.auth!.tenantId, filter, limit, next_token);
    return { status: 200, body: { items: page.items.map(toIdentity), ...(page.next_token ? { next_token: page.next_token } : {}) } };
  },
});
