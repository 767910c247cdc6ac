import { describe, expect, it } from 'vitest';
import { BudgetGate, counterId, type BudgetLedger, type Counter } from '../../../lambdas/observability/core/budgets.js';
import type { Budget } from '../../../lambdas/observability/core/model.js';
import type { PriceTable } from '../../../lambdas/observability/core/cost.js';
import { agent, harness, trace } from '../actions/fakes.js';

/** Ledger with the adapter's conditional semantics (the DynamoDB ledger is raced on moto). */
class MemoryLedger implements BudgetLedger {
  budgets: Budget[] = [];
  readonly counters = new Map<string, { committed: number; reserved: number; settled: number }>();
  readonly reservations = new Map<string, { counters: Counter[]; usd: number }>();
  private c(c: Counter) {
    const k = counterId(c);
    if (!this.counters.has(k)) this.counters.set(k, { committed: 0, reserved: 0, settled: 0 });
    return this.counters.get(k)!;
  }
  async listBudgets() {
    return this.budgets;
  }
  async committed(_t: string, c: Counter) {
    return this.c(c).committed;
  }
  async tryReserve(_t: string, c: Counter, usd: number, limit: number) {
    const x = this.c(c);
    if (x.committed > limit - usd) return false;
    x.committed += usd;
    x.reserved += usd;
    return true;
  }
  async addSettled(_t: string, c: Counter, usd: number) {
    const x = this.c(c);
    x.committed += usd;
    x.settled += usd;
  }
  async release(_t: string, c: Counter, usd: number) {
    const x = this.c(c);
    x.committed -= usd;
    x.reserved -= usd;
  }
  async putReservation(_t: string, id: string, r: { counters: Counter[]; usd: number }) {
    this.reservations.set(id, r);
  }
  async takeReservation(_t: string, id: string) {
    const r = this.reservations.get(id) ?? null;
    this.reservations.delete(id);
    return r;
  }
  async settle(_t: string, c: Counter, reserved: number, actual: number) {
    const x = this.c(c);
    x.committed += actual - reserved;
    x.reserved -= reserved;
    x.settled += actual;
  }
}

const prices: PriceTable = {
  models: [],
  tools: [{ tool: 'okta:users:read', unit_cost: 1, effective_from: '2026-01-01' }],
};
const gateWith = (budgets: Budget[], cohort: string | null = null) => {
  const ledger = new MemoryLedger();
  ledger.budgets = budgets;
  const gate = new BudgetGate({
    ledger,
    prices: async () => [prices],
    cohortOf: async () => cohort,
    now: () => new Date('2026-04-24T10:13:15Z'),
  });
  return { ledger, gate };
};
const budget = (b: Partial<Budget>): Budget => ({
  scope: 'agent',
  id: 'agt_1',
  period: 'day',
  usd: 2,
  over: 'forbid',
  updated_at: '2026-04-24T00:00:00Z',
  ...b,
});

describe('BudgetGate', () => {
  it('reserves, refuses past the limit, and a settled or released reservation frees nothing twice', async () => {
    const { gate, ledger } = gateWith([budget({})]);
    const a = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1');
    const b = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2');
    const c = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r3');
    expect([a.ok, b.ok, c.ok]).toEqual([true, true, false]);
    expect(c).toMatchObject({ ok: false, over: 'forbid', remaining_usd: 0 });
    await gate.settle('t1', 'r1', 'spent');
    await gate.settle('t1', 'r2', 'released');
    await gate.settle('t1', 'r2', 'released'); // idempotent
    expect([...ledger.counters.values()][0]).toEqual({ committed: 1, reserved: 0, settled: 1 });
    expect(await gate.context('t1', 'agt_1')).toEqual({
      spend: { day_usd: 1, month_usd: 1, period_usd: 1, period: 'day' },
      budget: { usd: 2, remaining_usd: 1, period: 'day', over: 'forbid' },
    });
  });

  it("keeps the agent's own day and month spend without any budget (what YAML budgets read)", async () => {
    const { gate, ledger } = gateWith([]);
    expect(await gate.context('t1', 'agt_1')).toEqual({ spend: { day_usd: 0, month_usd: 0 } });
    const r = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1');
    expect(r).toMatchObject({ ok: true, usd: 1 });
    await gate.settle('t1', 'r1', 'spent');
    await gate.record('t1', 'agt_1', 0.25);
    expect(await gate.context('t1', 'agt_1')).toEqual({ spend: { day_usd: 1.25, month_usd: 1.25 } });
    expect(await gate.context('t1', 'agt_2')).toEqual({ spend: { day_usd: 0, month_usd: 0 } });
    expect([...ledger.counters.values()].every((c) => c.reserved === 0)).toBe(true);
    // an action that costs nothing reserves nothing
    expect(await gate.reserve('t1', 'agt_1', 'okta:groups:read', 'r2')).toEqual({
      ok: true,
      id: 'r2',
      usd: 0,
      held: false,
    });
  });

  it('applies cohort budgets too and reports the tightest one', async () => {
    const { gate } = gateWith(
      [budget({ usd: 10 }), budget({ scope: 'cohort', id: 'reviewers', usd: 1, over: 'hitl' })],
      'reviewers',
    );
    expect((await gate.context('t1', 'agt_1'))!.budget).toMatchObject({ usd: 1, remaining_usd: 1, over: 'hitl' });
    expect((await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1')).ok).toBe(true);
    expect(await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2')).toMatchObject({ ok: false, over: 'hitl' });
  });

  it('lets exactly the affordable share of concurrent reservations through', async () => {
    const { gate } = gateWith([budget({ usd: 3 })]);
    const rs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gate.reserve('t1', 'agt_1', 'okta:users:read', `c${i}`)),
    );
    expect(rs.filter((r) => r.ok)).toHaveLength(3);
  });

  it('counts model spend reported by ingest against the budget', async () => {
    const { gate } = gateWith([budget({ usd: 1 })]);
    await gate.record('t1', 'agt_1', 0.75);
    expect(await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1')).toMatchObject({
      ok: false,
      remaining_usd: 0.25,
    });
  });
});

describe('ActionService with a spend gate', () => {
  it('puts context.spend and context.budget in the decision request', async () => {
    const { gate } = gateWith([budget({ usd: 5 })]);
    const h = harness({ spend: gate });
    await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(h.pdp.calls[0]!.context).toMatchObject({
      spend: { period_usd: 0, period: 'day' },
      budget: { usd: 5, remaining_usd: 5 },
    });
  });

  it('forbids an action over a forbid budget without running the connector', async () => {
    const { gate } = gateWith([budget({ usd: 0.5 })]);
    const h = harness({ spend: gate });
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.kind).toBe('denied');
    expect(out.action.decision.errors).toEqual(['budget exceeded']);
    expect(h.okta.calls).toHaveLength(0);
  });

  it('holds an action over a hitl budget for approval instead of running it', async () => {
    const { gate } = gateWith([budget({ usd: 0.5, over: 'hitl' })]);
    const h = harness({ spend: gate });
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.kind).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });
});
