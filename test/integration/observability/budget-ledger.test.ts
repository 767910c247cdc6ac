import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoBudgetLedger } from '../../../lambdas/observability/adapters/dynamo-budget-ledger.js';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import { BudgetGate } from '../../../lambdas/observability/core/budgets.js';
import { createSingleTable } from '../../support/tables.js';

const table = `obs-budget-${randomBytes(4).toString('hex')}`;

describe('DynamoBudgetLedger (moto)', () => {
  let gate: BudgetGate;
  beforeAll(async () => {
    await createSingleTable(table);
    const spans = new DynamoSpanStore(table);
    await spans.putBudget('t1', {
      scope: 'agent',
      id: 'agt_1',
      period: 'month',
      usd: 3,
      over: 'forbid',
      updated_at: '2026-12-01T00:00:00Z',
    });
    gate = new BudgetGate({
      ledger: new DynamoBudgetLedger(table),
      prices: async () => [
        { models: [], tools: [{ tool: 'okta:users:read', unit_cost: 1, effective_from: '2026-01-01' }] },
      ],
      cohortOf: async () => null,
      now: () => new Date('2026-12-01T12:00:00Z'),
    });
  });

  // Issued one after another: moto evaluates a ConditionExpression without a lock across its
  // server threads (truly parallel UpdateItems let 4-5 of 10 through in our runs), whereas DynamoDB
  // makes each conditional write atomic. The parallel case is covered by the unit test (atomic
  // in-memory ledger) and the two-action race end to end.
  it('lets exactly three of ten $1 reservations through a $3 budget (one conditional update each)', async () => {
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await gate.reserve('t1', 'agt_1', 'okta:users:read', `r${i}`));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(await gate.context('t1', 'agt_1')).toMatchObject({ spend: { period_usd: 3 }, budget: { remaining_usd: 0 } });
  });

  it('frees a released reservation once, so one more action fits', async () => {
    const first = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gate.settle('t1', `r${i}`, i % 2 ? 'spent' : 'released')),
    );
    expect(first).toHaveLength(10);
    await gate.settle('t1', 'r0', 'released'); // already settled: no change
    const ctx = await gate.context('t1', 'agt_1');
    expect(ctx!.spend.period_usd).toBeLessThan(3);
    expect((await gate.reserve('t1', 'agt_1', 'okta:users:read', 'again')).ok).toBe(true);
  });

  it("reserves a YAML budget on the agent's own counter: of two actions decided before either reserved, one passes", async () => {
    const yaml = { policy: 'okta-spend', period: 'day' as const, usd: 2, over: 'forbid' as const };
    await gate.record('t1', 'agt_yaml', 1); // $1 of $2 spent
    // both decisions read the context before either reservation: each saw $1 left
    const [ctxA, ctxB] = [await gate.context('t1', 'agt_yaml'), await gate.context('t1', 'agt_yaml')];
    expect([ctxA!.spend.day_usd, ctxB!.spend.day_usd]).toEqual([1, 1]);
    const a = await gate.reserve('t1', 'agt_yaml', 'okta:users:read', 'y1', { budgets: [yaml] });
    const b = await gate.reserve('t1', 'agt_yaml', 'okta:users:read', 'y2', { budgets: [yaml] });
    expect(a).toMatchObject({ ok: true, usd: 1, held: true });
    expect(b).toEqual({ ok: false, over: 'forbid', remaining_usd: 0, budget: yaml });
    expect((await gate.context('t1', 'agt_yaml'))!.spend).toMatchObject({ day_usd: 2, month_usd: 2 });
    // released, the dollar is back; spent, it is gone for good
    await gate.settle('t1', 'y1', 'released');
    expect((await gate.reserve('t1', 'agt_yaml', 'okta:users:read', 'y3', { budgets: [yaml] })).ok).toBe(true);
    await gate.settle('t1', 'y3', 'spent');
    expect((await gate.reserve('t1', 'agt_yaml', 'okta:users:read', 'y4', { budgets: [yaml] })).ok).toBe(false);
    expect((await gate.context('t1', 'agt_yaml'))!.spend.day_usd).toBe(2);
  });

  it('releases the counters when a reservation id is reused (the reservation record is a conditional put)', async () => {
    const yaml = { policy: 'okta-spend', period: 'month' as const, usd: 10, over: 'forbid' as const };
    expect((await gate.reserve('t1', 'agt_dup', 'okta:users:read', 'dup', { budgets: [yaml] })).ok).toBe(true);
    await expect(gate.reserve('t1', 'agt_dup', 'okta:users:read', 'dup', { budgets: [yaml] })).rejects.toThrow();
    expect((await gate.context('t1', 'agt_dup'))!.spend.month_usd).toBe(1);
  });
});
