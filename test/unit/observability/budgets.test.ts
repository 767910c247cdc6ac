import { describe, expect, it } from 'vitest';
import { BudgetGate, counterId, type BudgetLedger, type Counter } from '../../../lambdas/observability/core/budgets.js';
import type { Budget } from '../../../lambdas/observability/core/model.js';
import type { PriceTable } from '../../../lambdas/observability/core/cost.js';
import type { Decision, DecisionPoint, PolicyBudget } from '../../../lambdas/shared/ports.js';
import { FakePdp, agent, harness, manager, trace } from '../actions/fakes.js';

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

/** A YAML policy's budget as the PDP names it in a permit (`budgetsFor` in the policy core). */
const yaml = (b: Partial<PolicyBudget> = {}): PolicyBudget => ({
  policy: 'okta-spend',
  period: 'day',
  usd: 2,
  over: 'forbid',
  hitl: { channel: '#spend', timeout_seconds: 600, separation_of_duties: false },
  ...b,
});
/** Each `okta:users:read` and `okta:users:deactivate` costs $1. */
const yamlGate = (apiBudgets: Budget[] = []) => {
  const ledger = new MemoryLedger();
  ledger.budgets = apiBudgets;
  const gate = new BudgetGate({
    ledger,
    prices: async () => [
      {
        models: [],
        tools: [
          { tool: 'okta:users:read', unit_cost: 1, effective_from: '2026-01-01' },
          { tool: 'okta:users:deactivate', unit_cost: 1, effective_from: '2026-01-01' },
        ],
      },
    ],
    cohortOf: async () => null,
    now: () => new Date('2026-04-24T10:13:15Z'),
  });
  const day = (agentId = 'agt_1') =>
    ledger.counters.get(`agent#${agentId}#day#2026-04-24`) ?? { committed: 0, reserved: 0, settled: 0 };
  return { ledger, gate, day };
};
/** The harness's fake PDP with the YAML budgets a compiled policy would name on every permit. */
const pdpWith = (budgets: PolicyBudget[]): DecisionPoint & { inner: FakePdp } => {
  const inner = new FakePdp({
    'okta:users:read': { effect: 'permit', approval: 'none', risk: 'low' },
    'okta:users:deactivate': { effect: 'permit', approval: 'hitl', risk: 'high' },
  });
  return {
    inner,
    decide: async (req): Promise<Decision> => {
      const d = await inner.decide(req);
      return d.effect === 'permit' ? { ...d, budgets } : d;
    },
  };
};
const read = { connector: 'okta', operation: 'users:read', params: {} };
const deactivate = { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'u1' } };

describe('BudgetGate with YAML budgets (reserve, then settle)', () => {
  it('reserves against the last dollar of a YAML budget once: of two concurrent reservations one passes', async () => {
    const { gate, day } = yamlGate();
    await gate.record('t1', 'agt_1', 1); // $1 of $2 spent
    const [a, b] = await Promise.all([
      gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1', { budgets: [yaml()] }),
      gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2', { budgets: [yaml()] }),
    ]);
    expect([a.ok, b.ok].sort()).toEqual([false, true]);
    expect([a, b].find((r) => !r.ok)).toEqual({ ok: false, over: 'forbid', remaining_usd: 0, budget: yaml() });
    expect(day()).toEqual({ committed: 2, reserved: 1, settled: 1 });
    // without the YAML budget the same agent is not bounded (its own counter only counts)
    expect((await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r3')).ok).toBe(true);
  });

  it('refuses a price that would overshoot the budget even while the spend is still under it', async () => {
    const { gate, day } = yamlGate();
    await gate.record('t1', 'agt_1', 1.5);
    expect(await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1', { budgets: [yaml()] })).toMatchObject({
      ok: false,
      remaining_usd: 0.5,
    });
    expect(day()).toEqual({ committed: 1.5, reserved: 0, settled: 1.5 }); // the refusal took nothing
  });

  it('reserves a monthly YAML budget on the month counter and releases it when settled as released', async () => {
    const { gate, ledger } = yamlGate();
    const month = () => ledger.counters.get('agent#agt_1#month#2026-04');
    const ok = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1', {
      budgets: [yaml({ period: 'month', usd: 1 })],
    });
    expect(ok).toMatchObject({ ok: true, usd: 1, held: true });
    expect(
      (await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2', { budgets: [yaml({ period: 'month', usd: 1 })] })).ok,
    ).toBe(false);
    await gate.settle('t1', 'r1', 'released');
    expect(month()).toEqual({ committed: 0, reserved: 0, settled: 0 });
    expect(
      (await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r3', { budgets: [yaml({ period: 'month', usd: 1 })] })).ok,
    ).toBe(true);
  });

  it('counts a shared counter once when an API budget and a YAML budget bound it; the tightest refuses, forbid wins', async () => {
    const { gate, day } = yamlGate([budget({ usd: 5, over: 'forbid' })]);
    expect(
      (await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1', { budgets: [yaml({ usd: 1, over: 'hitl' })] })).ok,
    ).toBe(true);
    expect(day()).toEqual({ committed: 1, reserved: 1, settled: 0 }); // one counter, reserved once
    // the YAML $1 budget is spent (hitl), the API $5 one is not: held for a human
    expect(
      await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2', { budgets: [yaml({ usd: 1, over: 'hitl' })] }),
    ).toMatchObject({ ok: false, over: 'hitl', budget: { policy: 'okta-spend', usd: 1 } });
    await gate.record('t1', 'agt_1', 4); // now both are spent: the forbid one decides
    expect(
      await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r3', { budgets: [yaml({ usd: 1, over: 'hitl' })] }),
    ).toEqual({ ok: false, over: 'forbid', remaining_usd: 0 });
  });

  it('once approved, an over: hitl budget only counts; an over: forbid one still refuses', async () => {
    const { gate, day } = yamlGate();
    await gate.record('t1', 'agt_1', 2);
    const approved = await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r1', {
      budgets: [yaml({ over: 'hitl' })],
      approved: true,
    });
    expect(approved).toMatchObject({ ok: true, usd: 1, held: true });
    expect(day()).toMatchObject({ committed: 3, reserved: 1 });
    expect(
      await gate.reserve('t1', 'agt_1', 'okta:users:read', 'r2', {
        budgets: [yaml({ over: 'forbid' })],
        approved: true,
      }),
    ).toMatchObject({ ok: false, over: 'forbid' });
  });

  it('releases what it took when the reservation record cannot be written (the same id twice)', async () => {
    const { gate, ledger, day } = yamlGate();
    const put = ledger.putReservation.bind(ledger);
    ledger.putReservation = async (t, id, r) => {
      if (ledger.reservations.has(id)) throw new Error('ConditionalCheckFailedException');
      return put(t, id, r);
    };
    expect((await gate.reserve('t1', 'agt_1', 'okta:users:read', 'same', { budgets: [yaml()] })).ok).toBe(true);
    await expect(gate.reserve('t1', 'agt_1', 'okta:users:read', 'same', { budgets: [yaml()] })).rejects.toThrow();
    expect(day()).toEqual({ committed: 1, reserved: 1, settled: 0 });
  });
});

describe('ActionService with YAML budgets', () => {
  it('runs one of two concurrent actions against the last dollar and forbids the other, naming the budget', async () => {
    const { gate, day } = yamlGate();
    await gate.record('t1', 'agt_1', 1);
    const h = harness({ spend: gate, pdp: pdpWith([yaml()]) });
    const outs = await Promise.all([h.svc.submit(agent, read, trace), h.svc.submit(agent, read, trace)]);
    expect(outs.map((o) => o.kind).sort()).toEqual(['denied', 'executed']);
    const denied = outs.find((o) => o.kind === 'denied')!;
    expect(denied.action.decision).toMatchObject({
      effect: 'forbid',
      policy: 'okta-spend',
      determining_policies: ['okta-spend/budget'],
      errors: ['budget exceeded'],
    });
    expect(h.okta.calls).toHaveLength(1);
    expect(day()).toEqual({ committed: 2, reserved: 0, settled: 2 }); // settled: spent, nothing left reserved
  });

  it('holds an action for a human where the YAML policy holds its actions once an over: hitl budget is spent', async () => {
    const { gate } = yamlGate();
    await gate.record('t1', 'agt_1', 2);
    const h = harness({ spend: gate, pdp: pdpWith([yaml({ over: 'hitl' })]) });
    const out = await h.svc.submit(agent, read, trace);
    if (out.kind !== 'pending') throw new Error(`expected pending, got ${out.kind}`);
    expect(out.approval.channel).toBe('#spend');
    expect(Date.parse(out.approval.expires_at) - Date.parse(out.approval.created_at)).toBe(600_000);
    expect(h.okta.calls).toHaveLength(0);
  });

  it('a held action reserves nothing while it waits; approved, it reserves and books its price', async () => {
    const { gate, day, ledger } = yamlGate();
    const h = harness({ spend: gate, pdp: pdpWith([yaml({ usd: 5, over: 'hitl' })]) });
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    expect(day()).toEqual({ committed: 0, reserved: 0, settled: 0 });
    expect(ledger.reservations.size).toBe(0);
    const r = await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok');
    expect(r.action.status).toBe('executed');
    expect(day()).toEqual({ committed: 1, reserved: 0, settled: 1 });
    expect(ledger.reservations.size).toBe(0);
  });

  it('a held action that is denied or expires leaves the budget as it was', async () => {
    const { gate, day, ledger } = yamlGate();
    const h = harness({ spend: gate, pdp: pdpWith([yaml()]) });
    const a = await h.svc.submit(agent, deactivate, trace);
    const b = await h.svc.submit(agent, { ...deactivate, params: { user_id: 'u2' } }, trace);
    if (a.kind !== 'pending' || b.kind !== 'pending') throw new Error('expected pending');
    expect((await h.svc.decide('t1', a.approval.approval_id, manager, 'deny', 'no')).action.status).toBe('rejected');
    h.clock.advance(3600_001);
    expect(await h.svc.sweepExpired()).toBe(1);
    expect(day()).toEqual({ committed: 0, reserved: 0, settled: 0 });
    expect(ledger.reservations.size).toBe(0);
    // the whole $2 is still there for autonomous actions
    expect((await h.svc.submit(agent, read, trace)).kind).toBe('executed');
    expect((await h.svc.submit(agent, read, trace)).kind).toBe('executed');
    expect((await h.svc.submit(agent, read, trace)).kind).toBe('denied');
  });

  it('an approved action whose forbid budget was spent meanwhile fails without running, reserving nothing', async () => {
    const { gate, day } = yamlGate();
    // the budget's Cedar check still passes at $1.50 of $2; the $1 price would overshoot it
    const h = harness({ spend: gate, pdp: pdpWith([yaml()]) });
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    await gate.record('t1', 'agt_1', 1.5);
    const r = await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok');
    expect(r.approval.status).toBe('approved');
    expect(r.action).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
    expect(h.okta.calls).toHaveLength(0);
    expect(day()).toEqual({ committed: 1.5, reserved: 0, settled: 1.5 });
    expect(h.audit.records.map((x) => x.event_type)).toContain('operation.failed');
  });

  it('an approved action whose connector fails releases its reservation', async () => {
    const { gate, day } = yamlGate();
    const h = harness({ spend: gate, pdp: pdpWith([yaml()]) });
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    h.okta.state.failNext = true;
    const r = await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok');
    expect(r.action.status).toBe('failed');
    expect(day()).toEqual({ committed: 0, reserved: 0, settled: 0 });
  });
});
