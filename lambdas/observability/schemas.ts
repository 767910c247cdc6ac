import { z } from 'zod';

const iso = z.iso.datetime({ offset: true }).or(z.iso.date());
const usd = z.number().finite().min(0).max(1_000_000);

/**
 * Rejects price patterns that are not valid regular expressions or that quantify a group which
 * itself contains an unbounded quantifier (`(a+)+`, `(x*)*`): the super-linear shapes.
 */
export function safePattern(p: string): boolean {
  try {
    new RegExp(p);
  } catch {
    return false;
  }
  return !/\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,\})/.test(p);
}

export const ModelPriceSchema = z
  .strictObject({
    provider: z.string().min(1).max(64),
    model: z.string().min(1).max(200),
    match: z.enum(['exact', 'regex']).default('exact'),
    input_per_1m: usd,
    output_per_1m: usd,
    cache_read_per_1m: usd.optional(),
    cache_write_per_1m: usd.optional(),
    reasoning_per_1m: usd.optional(),
    effective_from: iso,
  })
  .refine((p) => p.match !== 'regex' || safePattern(p.model), {
    message: 'model must be a valid regular expression without nested unbounded quantifiers',
    path: ['model'],
  });

export const PricesBody = z.strictObject({
  models: z.array(ModelPriceSchema).max(500).default([]),
  tools: z
    .array(z.strictObject({ tool: z.string().min(1).max(200), unit_cost: usd, effective_from: iso }))
    .max(500)
    .default([]),
});
export type PricesBody = z.infer<typeof PricesBody>;

export const BudgetBody = z.strictObject({
  scope: z.enum(['agent', 'cohort']),
  id: z.string().min(1).max(128),
  period: z.enum(['day', 'month']),
  usd: usd,
  over: z.enum(['forbid', 'hitl']).default('forbid'),
});
export type BudgetBody = z.infer<typeof BudgetBody>;

export const UsageQuery = z.strictObject({ from: iso.optional(), to: iso.optional() });
export type UsageQuery = z.infer<typeof UsageQuery>;

export const SummaryQuery = z.strictObject({
  group_by: z.enum(['agent', 'cohort', 'model', 'day']).default('agent'),
  from: iso.optional(),
  to: iso.optional(),
});
export type SummaryQuery = z.infer<typeof SummaryQuery>;

export const SearchBody = z
  .strictObject({
    agent_id: z.string().min(1).max(128).optional(),
    operation: z.string().min(1).max(128).optional(),
    from: iso,
    to: iso,
    has_approval: z.boolean().optional(),
    min_cost_usd: usd.optional(),
    limit: z.number().int().min(1).max(500).optional(),
  })
  .refine((q) => Date.parse(q.from) <= Date.parse(q.to), { message: 'from must not be after to', path: ['from'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 31 * 86_400_000, {
    message: 'a search window is at most 31 days',
    path: ['to'],
  });
export type SearchBody = z.infer<typeof SearchBody>;

export const ExportBody = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(4096)).optional(),
  protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
});
export type ExportBody = z.infer<typeof ExportBody>;

// ---------------------------------------------------------------- responses

const Iso = z.string().describe('RFC 3339 date-time or date');

/** OTLP Export*ServiceResponse in its JSON encoding (the protobuf encoding answers the same message). */
export const otlpResponse = (field: 'rejectedSpans' | 'rejectedLogRecords' | 'rejectedDataPoints') =>
  z.object({
    partialSuccess: z.object({ [field]: z.number().int().optional(), errorMessage: z.string().optional() }).optional(),
  });

export const CostSummary = z
  .object({ usd: z.number(), by_model: z.record(z.string(), z.number()) })
  .meta({ id: 'CostSummary' });
const Tokens = z.object({
  input: z.number(),
  output: z.number(),
  cache_read: z.number(),
  cache_creation: z.number(),
  reasoning: z.number(),
});
const usageTotals = {
  usd: z.number(),
  spans: z.number().int(),
  priced_spans: z.number().int(),
  unpriced_spans: z.number().int(),
  tokens: Tokens,
  by_model: z.record(z.string(), z.number()),
};

export const TraceSearchResult = z.object({
  items: z.array(
    z.object({
      trace_id: z.string(),
      start_time: Iso,
      span_count: z.number().int(),
      agent_ids: z.array(z.string()),
      operations: z.array(z.string()),
      has_approval: z.boolean(),
      cost: CostSummary,
    }),
  ),
});

export const TraceSpan = z
  .object({
    trace_id: z.string(),
    span_id: z.string(),
    parent_span_id: z.string().nullable().optional(),
    name: z.string(),
    source: z.string(),
    start_time: Iso,
    start_time_unix_nano: z.string(),
    end_time_unix_nano: z.string(),
    duration_ms: z.number(),
    agent_id: z.string().nullable().optional(),
    cost_usd: z.number().nullable(),
    attributes: z.record(z.string(), z.unknown()),
    has_content: z.boolean(),
  })
  .meta({ id: 'TraceSpan' });

/** `GET /v1/traces/{trace_id}`: spans, decisions, approvals, actions and audit events of one trace. */
export const TraceView = z.object({
  trace_id: z.string(),
  spans: z.array(TraceSpan),
  decisions: z.array(z.record(z.string(), z.unknown())),
  approvals: z.array(z.record(z.string(), z.unknown())),
  actions: z.array(z.record(z.string(), z.unknown())),
  audit_events: z.array(z.record(z.string(), z.unknown())),
  cost: CostSummary,
  partial: z.boolean(),
  missing: z.array(z.string()),
});

const ModelPrice = z.object({
  provider: z.string(),
  model: z.string(),
  match: z.enum(['exact', 'regex']),
  input_per_1m: z.number(),
  output_per_1m: z.number(),
  cache_read_per_1m: z.number().optional(),
  cache_write_per_1m: z.number().optional(),
  reasoning_per_1m: z.number().optional(),
  effective_from: Iso,
});
const ToolPrice = z.object({ tool: z.string(), unit_cost: z.number(), effective_from: Iso });
export const Prices = z.object({
  models: z.array(ModelPrice),
  tools: z.array(ToolPrice),
  updated_at: Iso.nullable(),
  defaults: z.object({ as_of: z.string(), models: z.array(ModelPrice), tools: z.array(ToolPrice) }),
});
export const PricesUpdated = z.object({
  models: z.array(ModelPrice),
  tools: z.array(ToolPrice),
  updated_at: Iso,
  recomputed: z.object({ since: Iso, spans_scanned: z.number().int(), spans_changed: z.number().int() }),
});
export const Budget = z
  .object({
    scope: z.enum(['agent', 'cohort']),
    id: z.string(),
    period: z.enum(['day', 'month']),
    usd: z.number(),
    over: z.enum(['forbid', 'hitl']),
    updated_at: Iso,
  })
  .meta({ id: 'Budget' });
export const ExportConfigured = z.object({
  endpoint: z.string(),
  protocol: z.enum(['http/protobuf', 'http/json']),
  header_names: z.array(z.string()),
  updated_at: Iso,
});
export const OrgSummary = z.object({
  group_by: z.enum(['agent', 'cohort', 'model', 'day']),
  from: Iso,
  to: Iso,
  usd: z.number(),
  items: z.array(z.object({ key: z.string(), usd: z.number(), spans: z.number().int(), tokens: Tokens })),
});
export const AgentUsage = z.object({ agent_id: z.string(), from: Iso, to: Iso, ...usageTotals });
export const CohortUsage = z.object({
  cohort_id: z.string(),
  from: Iso,
  to: Iso,
  agents: z.array(z.object({ agent_id: z.string(), usd: z.number() })),
  ...usageTotals,
});
