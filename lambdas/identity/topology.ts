import type { CapabilityTopology } from '../shared/topology-types.js';
import { RegisterAgentBody } from './schemas.js';

/** C2 identity: agent registration, SVIDs, token exchange, owner binding, credential broker. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'identity-api',
      capability: 'identity',
      entry: 'lambdas/identity/handlers/api.ts',
      description: 'Agent identity API',
      uses: { inventoryTable: 'write', controlTable: 'write', bus: 'write' },
    },
  ],
  routes: [
    {
      method: 'POST',
      path: '/v1/identity/agents',
      fn: 'identity-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Register an agent: active, owner-bound, with a one-time bootstrap token',
      body: RegisterAgentBody,
      response: { status: 201, description: '{agent_id, spiffe_id, status, bootstrap_token}' },
    },
    {
      method: 'GET',
      path: '/v1/identity/agents/{id}',
      fn: 'identity-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Read one agent identity',
      response: { status: 200, description: 'AgentIdentity' },
    },
  ],
};
export default topology;
