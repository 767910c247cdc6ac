import type { CapabilityTopology } from '../shared/topology-types.js';
import { DashboardSummary, SummaryQuery } from './schemas.js';

/** The console's dashboard: one server-side summary over a window, from the capabilities' facades. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'dashboard-api',
      capability: 'dashboard',
      entry: 'lambdas/dashboard/handlers/api.ts',
      description: 'Dashboard summary: approvals, decisions, executions, cost and terminations over a window',
      uses: { controlTable: 'read', auditTable: 'read', tracesTable: 'read' },
      memoryMb: 1024,
      timeoutSeconds: 29,
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/v1/dashboard/summary',
      fn: 'dashboard-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary:
        'Approval and denial rates, time to decision p50/p95 per policy and approver, actions and denials per agent, cost per agent per day, terminations, over ?from=&to= (at most 31 days)',
      query: SummaryQuery,
      response: { status: 200, description: 'DashboardSummary', schema: DashboardSummary },
    },
  ],
};
export default topology;
