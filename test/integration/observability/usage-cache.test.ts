/**
 * The budget gate's reads of a tenant's budgets and prices (issue 19 §3): reused within a short
 * window (USAGE_CONFIG_CACHE_MS) instead of read on every action, and a change written through
 * this process applies at once. Spend is never cached. Against moto, counting the calls sent.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import { createSpendGate } from '../../../lambdas/observability/index.js';
import { spyOnAwsCalls } from '../../support/aws-spy.js';
import { createSingleTable } from '../../support/tables.js';

const table = `obs-usage-cache-${randomBytes(4).toString('hex')}`;
let spy: ReturnType<typeof spyOnAwsCalls> | undefined;
const sent = () => spy!.take().map((c) => c.command);

beforeAll(async () => {
  await createSingleTable(table);
});
afterEach(() => {
  spy?.restore();
  spy = undefined;
});

describe('budgets and prices on the decision path', () => {
  it('reads the budget list once per window, and a budget written here applies to the next action', async () => {
    const gate = createSpendGate(table, `${table}-inventory-unused`);
    const spans = new DynamoSpanStore(table);
    const tenant = `t-${randomBytes(3).toString('hex')}`;
    spy = spyOnAwsCalls();
    for (let i = 0; i < 3; i++) expect(await gate.context(tenant, 'agt_1')).not.toHaveProperty('budget');
    const first = sent();
    expect(first.filter((c) => c === 'Query')).toHaveLength(1);
    // The agent's day and month counters are read every time: spend is never cached.
    expect(first.filter((c) => c === 'Get')).toHaveLength(6);

    const budget = { scope: 'agent', id: 'agt_1', period: 'day', usd: 0.5, over: 'forbid' } as const;
    await spans.putBudget(tenant, { ...budget, updated_at: new Date().toISOString() });
    expect(await gate.context(tenant, 'agt_1')).toMatchObject({ budget: { usd: 0.5, remaining_usd: 0.5 } });
  });

  it('reads the price table once per window, and a new price applies to the next reservation', async () => {
    const gate = createSpendGate(table, `${table}-inventory-unused`);
    const spans = new DynamoSpanStore(table);
    const tenant = `t-${randomBytes(3).toString('hex')}`;
    spy = spyOnAwsCalls();
    for (let i = 0; i < 3; i++)
      expect(await gate.reserve(tenant, 'agt_1', 'okta:users:read', `r${i}`)).toMatchObject({ ok: true, usd: 0 });
    expect(sent().filter((c) => c === 'Get')).toHaveLength(1);

    await spans.putPrices(
      tenant,
      { models: [], tools: [{ tool: 'okta:users:read', unit_cost: 0.25, effective_from: '2026-01-01' }] },
      new Date().toISOString(),
    );
    expect(await gate.reserve(tenant, 'agt_1', 'okta:users:read', 'r-priced')).toMatchObject({ ok: true, usd: 0.25 });
    expect(await gate.daySpend(tenant, 'agt_1')).toBe(0.25);
  });
});
