import type { CapabilityTopology } from '../shared/topology-types.js';
import { ListAgentsQuery } from './schemas.js';

/** C1 discovery: the agent inventory (SCD-2) and its change feed. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'discovery-api',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/api.ts',
      description: 'Discovery read API over the agent inventory',
      uses: { inventoryTable: 'read' },
    },
    {
      name: 'discovery-inventory-change',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/inventory-change.ts',
      description: 'Records each inventory.change event once (idempotent consumer)',
      uses: { controlTable: 'write' },
    },
    {
      name: 'platform-outbox-relay',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/outbox-relay.ts',
      description: 'Publishes transactional-outbox events left unpublished by a failed PutEvents',
      uses: { controlTable: 'write', bus: 'write' },
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/v1/discovery/agents',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'List inventoried agents (filters: platform, status, owner, cohort; paginated)',
      query: ListAgentsQuery,
      response: { status: 200, description: '{items, next_token?}' },
    },
  ],
  events: [{ name: 'record-inventory-change', fn: 'discovery-inventory-change', detailTypes: ['inventory.change'] }],
  schedules: [{ name: 'outbox-relay', fn: 'platform-outbox-relay', rate: 'rate(1 minute)' }],
};
export default topology;
