import { describe, expect, it } from 'vitest';
import {
  costOf,
  DEFAULT_PRICES,
  modelCandidates,
  modelCost,
  priceFor,
  type ModelPrice,
  type PriceTable,
} from '../../../lambdas/observability/core/cost.js';
import { recomputeCosts, totals } from '../../../lambdas/observability/core/usage.js';
import { PricesBody, safePattern } from '../../../lambdas/observability/schemas.js';
import { MemorySpanStore } from './fixtures.js';
import type { SpanRecord } from '../../../lambdas/observability/core/model.js';

const sonnet: ModelPrice = {
  provider: 'anthropic',
  model: 'claude-sonnet-4-20250514',
  match: 'exact',
  input_per_1m: 3,
  output_per_1m: 15,
  cache_read_per_1m: 0.3,
  cache_write_per_1m: 3.75,
  effective_from: '2025-01-01',
};
const at = Date.parse('2026-11-20T10:00:00Z');

describe('cost: token semantics of the GenAI conventions', () => {
  it('prices cache reads and writes at their own rates and only the uncached rest at the input rate', () => {
    // input 10,000 includes 6,000 cache reads and 2,000 cache writes → 2,000 uncached
    const c = modelCost(sonnet, { input: 10_000, cacheRead: 6_000, cacheCreation: 2_000, output: 1_000 })!;
    expect(c.parts).toMatchObject({ input: 0.006, cache_read: 0.0018, cache_write: 0.0075, output: 0.015 });
    expect(c.usd).toBeCloseTo(0.006 + 0.0018 + 0.0075 + 0.015, 9);
  });

  it('counts reasoning tokens inside output: at the reasoning rate when set, else at the output rate', () => {
    const o3: ModelPrice = {
      provider: 'openai',
      model: 'o3',
      match: 'exact',
      input_per_1m: 2,
      output_per_1m: 8,
      reasoning_per_1m: 10,
      effective_from: '2025-01-01',
    };
    const c = modelCost(o3, { input: 1_000, output: 5_000, reasoning: 4_000 })!;
    expect(c.parts).toMatchObject({ input: 0.002, output: 0.008, reasoning: 0.04 });
    const noRate = modelCost(
      { ...o3, reasoning_per_1m: undefined },
      { input: 1_000, output: 5_000, reasoning: 4_000 },
    )!;
    expect(noRate.usd).toBeCloseTo(0.002 + 0.04, 9); // 5,000 output tokens at 8/1M, no double count
  });

  it('falls back to the input rate when no cache rate is priced', () => {
    const c = modelCost(
      { ...sonnet, cache_read_per_1m: undefined, cache_write_per_1m: undefined },
      { input: 1_000_000, cacheRead: 500_000, output: 0 },
    )!;
    expect(c.usd).toBe(3);
  });

  it('returns no cost when a span carries no usage at all', () => {
    expect(modelCost(sonnet, {})).toBeNull();
    expect(
      costOf([DEFAULT_PRICES], { provider: 'anthropic', model: 'claude-sonnet-4-20250514', tool: null, usage: {}, at }),
    ).toBeNull();
  });
});

describe('cost: model matching', () => {
  it('matches a dated model id by a regex price', () => {
    const p = priceFor([DEFAULT_PRICES], 'anthropic', 'claude-sonnet-4-20250514', at)!;
    expect(p.match).toBe('regex');
    expect(p.input_per_1m).toBe(3);
    expect(priceFor([DEFAULT_PRICES], 'anthropic', 'claude-sonnet-4-5-20250929', at)!.model).toMatch(
      /^claude-sonnet-4/,
    );
  });

  it('prices a Bedrock cross-region inference-profile id and profile ARN as the underlying model', () => {
    expect(modelCandidates('us.anthropic.claude-sonnet-4-20250514-v1:0')).toContain('claude-sonnet-4-20250514');
    const viaProfile = priceFor([DEFAULT_PRICES], 'aws.bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0', at);
    const viaArn = priceFor(
      [DEFAULT_PRICES],
      'aws.bedrock',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-1-20250805-v1:0',
      at,
    );
    expect(viaProfile?.input_per_1m).toBe(3);
    expect(viaArn?.input_per_1m).toBe(15);
    expect(priceFor([DEFAULT_PRICES], 'aws.bedrock', 'amazon.nova-pro-v1:0', at)?.input_per_1m).toBe(0.8);
  });

  it('prefers the tenant table, an exact match over a regex, and the price in force at event time', () => {
    const tenant: PriceTable = {
      models: [
        { ...sonnet, input_per_1m: 2.5, effective_from: '2026-01-01' },
        { ...sonnet, input_per_1m: 2, effective_from: '2026-12-01' },
      ],
      tools: [{ tool: 'okta:users:deactivate', unit_cost: 0.01, effective_from: '2026-01-01' }],
    };
    expect(priceFor([tenant, DEFAULT_PRICES], 'anthropic', 'claude-sonnet-4-20250514', at)!.input_per_1m).toBe(2.5);
    expect(
      priceFor([tenant, DEFAULT_PRICES], 'anthropic', 'claude-sonnet-4-20250514', Date.parse('2026-12-02T00:00:00Z'))!
        .input_per_1m,
    ).toBe(2);
    expect(
      priceFor([tenant, DEFAULT_PRICES], 'anthropic', 'claude-sonnet-4-20250514', Date.parse('2025-06-01T00:00:00Z'))!
        .input_per_1m,
    ).toBe(3);
    expect(costOf([tenant], { provider: null, model: null, tool: 'okta:users:deactivate', usage: {}, at })?.usd).toBe(
      0.01,
    );
    expect(priceFor([DEFAULT_PRICES], 'openai', 'unknown-model', at)).toBeNull();
  });

  it('refuses price patterns that are invalid or super-linear', () => {
    expect(safePattern('claude-opus-4(-[0-9]{1,2})?')).toBe(true);
    expect(safePattern('(a+)+$')).toBe(false);
    expect(safePattern('(x*)*')).toBe(false);
    expect(safePattern('([')).toBe(false);
    const r = PricesBody.safeParse({
      models: [
        {
          provider: 'p',
          model: '(a+)+',
          match: 'regex',
          input_per_1m: 1,
          output_per_1m: 1,
          effective_from: '2026-01-01',
        },
      ],
    });
    expect(r.success).toBe(false);
  });
});

const span = (
  id: string,
  start: string,
  usage: SpanRecord['usage'],
  model = 'claude-sonnet-4-20250514',
): SpanRecord => ({
  tenant_id: 't1',
  trace_id: 'a'.repeat(32),
  span_id: id.padStart(16, '0'),
  parent_span_id: null,
  name: 'chat',
  kind: 3,
  start_ns: (BigInt(Date.parse(start)) * 1_000_000n).toString(),
  end_ns: (BigInt(Date.parse(start)) * 1_000_000n).toString(),
  start_time: start,
  duration_ms: 0,
  source: 'otlp',
  agent_id: 'agt_1',
  operation: 'chat',
  provider: 'anthropic',
  model,
  tool_name: null,
  usage,
  cost_usd: null,
  priced_as: null,
  status: { code: 0, message: '' },
  attributes: {},
  events: [],
  resource: {},
  scope: { name: '', version: '' },
  content_ref: null,
  ingested_at: start,
});

describe('cost: a price change recomputes history (event-time pricing)', () => {
  it('reprices only spans at or after the new effective_from, and a second run changes nothing', async () => {
    const store = new MemorySpanStore();
    const now = new Date('2026-11-25T12:00:00Z');
    await store.putSpans([
      span('1', '2026-11-10T09:00:00.000Z', { input: 1_000_000, output: 0 }),
      span('2', '2026-11-22T09:00:00.000Z', { input: 1_000_000, output: 0 }),
    ]);
    await recomputeCosts({ spans: store }, 't1', [DEFAULT_PRICES], new Date('2026-11-01T00:00:00Z'), now);
    expect([...store.spans.values()].map((s) => s.cost_usd)).toEqual([3, 3]);

    const tenant: PriceTable = { models: [{ ...sonnet, input_per_1m: 1, effective_from: '2026-11-20' }], tools: [] };
    const first = await recomputeCosts(
      { spans: store },
      't1',
      [tenant, DEFAULT_PRICES],
      new Date('2026-11-20T00:00:00Z'),
      now,
    );
    expect(first.changed).toBe(1);
    const bySpan = Object.fromEntries([...store.spans.values()].map((s) => [s.span_id.slice(-1), s.cost_usd]));
    expect(bySpan).toEqual({ '1': 3, '2': 1 });
    const again = await recomputeCosts(
      { spans: store },
      't1',
      [tenant, DEFAULT_PRICES],
      new Date('2026-11-20T00:00:00Z'),
      now,
    );
    expect(again).toEqual({ scanned: 1, changed: 0 });
    expect(totals([...store.spans.values()])).toMatchObject({
      usd: 4,
      priced_spans: 2,
      by_model: { 'claude-sonnet-4-20250514': 4 },
    });
  });
});
