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
  .refine((p) => p.match !== 'regex' || safePattern(p.model), { message: 'model must be a valid regular expression without nested unbounded quantifiers', path: ['model'] });

export const PricesBody = z.strictObject({
  models: z.array(ModelPriceSchema).max(500).default([]),
  tools: z.array(z.strictObject({ tool: z.string().min(1).max(200), unit_cost: usd, effective_from: iso })).max(500).default([]),
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
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 31 * 86_400_000, { message: 'a search window is at most 31 days', path: ['to'] });
export type SearchBody = z.infer<typeof SearchBody>;

export const ExportBody = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(4096)).optional(),
  protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
});
export type ExportBody = z.infer<typeof ExportBody>;
