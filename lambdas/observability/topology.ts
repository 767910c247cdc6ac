import type { CapabilityTopology } from '../shared/topology-types.js';
import { SPAN_DETAIL_TYPES } from './core/arx-spans.js';
import { OTLP_MAX_BODY_BYTES } from './core/receiver.js';
import { z } from 'zod';
import {
  AgentUsage,
  Budget,
  BudgetBody,
  CohortUsage,
  ExportBody,
  ExportConfigured,
  OrgSummary,
  otlpResponse,
  Prices,
  PricesBody,
  PricesUpdated,
  SearchBody,
  SummaryQuery,
  TraceSearchResult,
  TraceView,
  UsageQuery,
} from './schemas.js';

/** The cold span copies' S3 tag, for the bucket's lifecycle rule (lib/observability.ts). */
export { COLD_SPAN_TAG } from './core/model.js';

const otlp = (signal: 'traces' | 'logs' | 'metrics') =>
  ({
    method: 'POST',
    path: `/v1/otlp/v1/${signal}`,
    fn: 'observability-otlp',
    auth: 'bearer',
    roles: ['agent', 'admin'],
    summary: `OTLP/HTTP ${signal} receiver (application/x-protobuf or application/json, gzip); an agent may only send its own`,
    bodyType: 'binary',
    maxBodyBytes: OTLP_MAX_BODY_BYTES,
    response: {
      status: 200,
      description: `Export${signal === 'traces' ? 'Trace' : signal === 'logs' ? 'Logs' : 'Metrics'}ServiceResponse {partialSuccess?}, protobuf or JSON as the request was`,
      schema: otlpResponse(
        signal === 'traces' ? 'rejectedSpans' : signal === 'logs' ? 'rejectedLogRecords' : 'rejectedDataPoints',
      ),
    },
  }) as const;

/** C5 observability: OTLP ingest, the single queryable trace, cost and budgets. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'observability-otlp',
      capability: 'observability',
      entry: 'lambdas/observability/handlers/otlp.ts',
      description: 'OTLP/HTTP receiver: GenAI spans to the hot store, content encrypted apart, event-time cost',
      uses: {
        tracesTable: 'write',
        artifactBucket: 'write',
        dataKey: 'write',
        inventoryTable: 'read',
        // discovery.evidence for spans naming an unknown gen_ai.agent.id, through the outbox
        controlTable: 'write',
        bus: 'write',
      },
      memoryMb: 1024,
      timeoutSeconds: 29,
    },
    {
      name: 'observability-api',
      capability: 'observability',
      entry: 'lambdas/observability/handlers/api.ts',
      description: 'Trace join (spans, decisions, approvals, actions, audit, cost), search, prices, usage, budgets',
      uses: {
        tracesTable: 'write',
        controlTable: 'read',
        auditTable: 'read',
        inventoryTable: 'read',
        dataKey: 'write',
        artifactBucket: 'read',
      },
      memoryMb: 1024,
      timeoutSeconds: 29,
    },
    {
      name: 'observability-bus-consumer',
      capability: 'observability',
      entry: 'lambdas/observability/handlers/bus-consumer.ts',
      description:
        "ARX's own spans for every governed action, from the action events, forwarded to the tenant's OTLP endpoint",
      uses: { tracesTable: 'write', dataKey: 'write', artifactBucket: 'write' },
      timeoutSeconds: 30,
    },
  ],
  routes: [
    otlp('traces'),
    otlp('logs'),
    otlp('metrics'),
    {
      method: 'POST',
      path: '/v1/traces/search',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor', 'agent'],
      summary: 'Traces in a window (≤ 31 days) by agent, operation, approval and cost',
      body: SearchBody,
      response: {
        status: 200,
        description: '{items: [{trace_id, start_time, span_count, agent_ids, operations, has_approval, cost}]}',
        schema: TraceSearchResult,
      },
    },
    {
      method: 'GET',
      path: '/v1/traces/{trace_id}',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor', 'agent'],
      summary: 'One trace: spans, decisions, approvals, actions, audit events and cost (an agent: its own traces)',
      response: {
        status: 200,
        description:
          '{trace_id, spans[], decisions[], approvals[], actions[], audit_events[], cost:{usd, by_model}, partial, missing[]}',
        schema: TraceView,
      },
    },
    {
      method: 'GET',
      path: '/v1/usage/prices',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: "The tenant's model and tool prices, and ARX's dated defaults",
      response: { status: 200, description: '{models[], tools[], updated_at, defaults}', schema: Prices },
    },
    {
      method: 'PUT',
      path: '/v1/usage/prices',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Replace the tenant price table; spans from the earliest changed effective_from are recomputed',
      body: PricesBody,
      response: {
        status: 200,
        description: '{models[], tools[], updated_at, recomputed:{since, spans_scanned, spans_changed}}',
        schema: PricesUpdated,
      },
    },
    {
      method: 'PUT',
      path: '/v1/usage/budgets',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Set the budget of an agent or cohort for a day or month',
      body: BudgetBody,
      response: { status: 200, description: 'Budget', schema: Budget },
    },
    {
      method: 'GET',
      path: '/v1/usage/budgets',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Budgets of the tenant',
      response: { status: 200, description: '{items: Budget[]}', schema: z.object({ items: z.array(Budget) }) },
    },
    {
      method: 'PUT',
      path: '/v1/observability/export',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: "Forward ARX's spans to the tenant's OTLP/HTTP endpoint (headers stored encrypted, never returned)",
      body: ExportBody,
      response: {
        status: 200,
        description: '{endpoint, protocol, header_names, updated_at}',
        schema: ExportConfigured,
      },
    },
    {
      method: 'GET',
      path: '/v1/usage/org/summary',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Spend of the tenant grouped by agent, cohort, model or day',
      query: SummaryQuery,
      response: {
        status: 200,
        description: '{group_by, from, to, usd, items:[{key, usd, spans, tokens}]}',
        schema: OrgSummary,
      },
    },
    {
      method: 'GET',
      path: '/v1/usage/agents/{id}',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor', 'agent'],
      summary: "An agent's spend and tokens in a window (an agent: its own)",
      query: UsageQuery,
      response: { status: 200, description: '{agent_id, from, to, usd, spans, tokens, by_model}', schema: AgentUsage },
    },
    {
      method: 'GET',
      path: '/v1/usage/cohorts/{id}',
      fn: 'observability-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: "A cohort's spend per agent and in total",
      query: UsageQuery,
      response: {
        status: 200,
        description: '{cohort_id, from, to, usd, agents[], tokens, by_model}',
        schema: CohortUsage,
      },
    },
  ],
  events: [{ name: 'observability-arx-spans', fn: 'observability-bus-consumer', detailTypes: [...SPAN_DETAIL_TYPES] }],
};
export default topology;
