import type { CapabilityTopology } from '../shared/topology-types.js';
import { DRIFT_SOURCE_DETAIL_TYPES } from './core/service.js';
import { DriftView } from './schemas.js';

/** Behavioural drift: per-agent baselines from the decision and action events, a score, `agent.drift`. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'drift-bus-consumer',
      capability: 'drift',
      entry: 'lambdas/drift/handlers/bus-consumer.ts',
      description: "Folds decisions, denials and executions into each agent's drift baseline; emits agent.drift",
      uses: { controlTable: 'write', bus: 'write', tracesTable: 'read', inventoryTable: 'read' },
      timeoutSeconds: 30,
    },
    {
      name: 'drift-api',
      capability: 'drift',
      entry: 'lambdas/drift/handlers/api.ts',
      description: "An agent's drift score and its evidence",
      uses: { controlTable: 'read', inventoryTable: 'read' },
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/v1/agents/{id}/drift',
      fn: 'drift-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: "An agent's drift: score (0…1, 0.5 = alert), the driving component and its evidence",
      response: {
        status: 200,
        description: '{agent_id, score, alert, warming_up, driver, components, baseline, method, updated_at}',
        schema: DriftView,
      },
    },
  ],
  events: [{ name: 'drift-baselines', fn: 'drift-bus-consumer', detailTypes: [...DRIFT_SOURCE_DETAIL_TYPES] }],
};
export default topology;
