/**
 * Budgets (the brief's cost-control case): per agent or cohort, per day or month. Spend is kept in
 * counters per (scope, period) that the ingest path (model spend) and the governed-action path
 * (tool spend) both move. Actions reserve before they run and settle after, with a conditional
 * write on `committed = settled + reserved`, so two concurrent actions against the last dollar
 * cannot both pass.
 */
import type { PolicyBudget, Reservation, ReserveOptions, SpendContext, SpendGate } from '../../shared/ports.js';
import { toolPriceFor, type PriceTable } from './cost.js';
import type { Budget } from './model.js';

export const periodKey = (period: 'day' | 'month', at: Date): string =>
  period === 'day' ? at.toISOString().slice(0, 10) : at.toISOString().slice(0, 7);

/** One counter: `committed_usd` = settled + reserved, never above the budget through reserve(). */
export interface Counter {
  readonly scope: 'agent' | 'cohort';
  readonly id: string;
  readonly period: 'day' | 'month';
  readonly key: string;
}
export const counterId = (c: Counter): string => `${c.scope}#${c.id}#${c.period}#${c.key}`;

/** A budget's bound on one counter: an API budget's, or a YAML policy's (`yaml`). */
interface Limit {
  readonly c: Counter;
  readonly usd: number;
  readonly over: 'forbid' | 'hitl';
  readonly yaml?: PolicyBudget;
}
const UNBOUNDED = Number.MAX_SAFE_INTEGER;
const EPS = 1e-9;

/** Conditional-write ledger (DynamoDB adapter). */
export interface BudgetLedger {
  listBudgets(tenantId: string): Promise<Budget[]>;
  committed(tenantId: string, c: Counter): Promise<number>;
  /** Adds `usd` to committed+reserved if committed stays ≤ `limit`; false otherwise. */
  tryReserve(tenantId: string, c: Counter, usd: number, limit: number): Promise<boolean>;
  /** Unconditional: committed += usd, settled += usd (spend that already happened). */
  addSettled(tenantId: string, c: Counter, usd: number): Promise<void>;
  release(tenantId: string, c: Counter, usd: number): Promise<void>;
  putReservation(tenantId: string, id: string, r: { counters: Counter[]; usd: number }): Promise<void>;
  /** Removes and returns the reservation once (null when already settled). */
  takeReservation(tenantId: string, id: string): Promise<{ counters: Counter[]; usd: number } | null>;
  settle(tenantId: string, c: Counter, reserved: number, actual: number): Promise<void>;
}

export class BudgetGate implements SpendGate {
  constructor(
    private readonly d: {
      ledger: BudgetLedger;
      prices: (tenantId: string) => Promise<readonly PriceTable[]>;
      cohortOf: (tenantId: string, agentId: string) => Promise<string | null>;
      now: () => Date;
    },
  ) {}

  private async applicable(tenantId: string, agentId: string): Promise<{ b: Budget; c: Counter }[]> {
    const budgets = await this.d.ledger.listBudgets(tenantId);
    if (!budgets.length) return [];
    const cohort = budgets.some((b) => b.scope === 'cohort') ? await this.d.cohortOf(tenantId, agentId) : null;
    const now = this.d.now();
    return budgets
      .filter(
        (b) =>
          (b.scope === 'agent' && b.id === agentId) || (b.scope === 'cohort' && cohort !== null && b.id === cohort),
      )
      .map((b) => ({ b, c: { scope: b.scope, id: b.id, period: b.period, key: periodKey(b.period, now) } }));
  }

  /** The agent's own day and month counters, kept whether or not a budget names the agent (YAML budgets read them). */
  private own(agentId: string, now: Date): Counter[] {
    return (['day', 'month'] as const).map((period) => ({
      scope: 'agent',
      id: agentId,
      period,
      key: periodKey(period, now),
    }));
  }

  async context(tenantId: string, agentId: string): Promise<SpendContext | null> {
    const now = this.d.now();
    const [all, [day, month]] = await Promise.all([
      this.applicable(tenantId, agentId),
      Promise.all(this.own(agentId, now).map((c) => this.d.ledger.committed(tenantId, c))),
    ]);
    let best: { spend: number; b: Budget; remaining: number } | null = null;
    for (const { b, c } of all) {
      const spent = await this.d.ledger.committed(tenantId, c);
      const remaining = Math.max(0, Math.round((b.usd - spent) * 1e9) / 1e9);
      if (!best || remaining < best.remaining) best = { spend: spent, b, remaining };
    }
    return {
      spend: {
        day_usd: day ?? 0,
        month_usd: month ?? 0,
        ...(best ? { period_usd: best.spend, period: best.b.period } : {}),
      },
      ...(best
        ? { budget: { usd: best.b.usd, remaining_usd: best.remaining, period: best.b.period, over: best.b.over } }
        : {}),
    };
  }

  /** The agent's own committed spend today (one counter read; drift's cost signal). */
  daySpend(tenantId: string, agentId: string): Promise<number> {
    return this.d.ledger.committed(tenantId, this.own(agentId, this.d.now())[0]!);
  }

  /**
   * Reserves the action's price on every counter a budget bounds — the `PUT /v1/usage/budgets`
   * budgets that apply to the agent and the decision's YAML budgets (`opts.budgets`, on the agent's
   * own counter for their period) — with one conditional update per counter against the tightest
   * limit on it, so the second of two concurrent actions against the last dollar is refused. The
   * agent's own day and month counters move too. On a refusal everything taken is released, and
   * `over` is `forbid` if any exhausted budget says so.
   */
  async reserve(
    tenantId: string,
    agentId: string,
    action: string,
    reservationId: string,
    opts: ReserveOptions = {},
  ): Promise<Reservation> {
    const now = this.d.now();
    const api = await this.applicable(tenantId, agentId);
    const price = toolPriceFor(await this.d.prices(tenantId), action, now.getTime());
    const usd = price?.unit_cost ?? 0;
    const limits: Limit[] = [
      ...api.map(({ b, c }) => ({ c, usd: b.usd, over: b.over })),
      ...(opts.budgets ?? []).map((b) => ({
        c: { scope: 'agent' as const, id: agentId, period: b.period, key: periodKey(b.period, now) },
        usd: b.usd,
        over: b.over,
        yaml: b,
      })),
    ].filter((l) => !(opts.approved && l.over === 'hitl')); // approved: a hitl budget only counts
    const counted = [...api.map((x) => x.c), ...limits.map((l) => l.c), ...(usd > 0 ? this.own(agentId, now) : [])];
    if (!api.length && !opts.budgets?.length && usd <= 0) return { ok: true, id: reservationId, usd: 0, held: false };
    // One entry per counter, bounded by the tightest limit on it (unbounded: it only counts).
    const byCounter = new Map<string, { c: Counter; max: number }>();
    for (const c of counted) if (!byCounter.has(counterId(c))) byCounter.set(counterId(c), { c, max: UNBOUNDED });
    for (const l of limits) {
      const e = byCounter.get(counterId(l.c))!;
      e.max = Math.min(e.max, l.usd);
    }
    const taken: Counter[] = [];
    for (const { c, max } of byCounter.values()) {
      // With nothing to reserve, an exhausted budget still refuses (committed must stay < limit).
      if (await this.d.ledger.tryReserve(tenantId, c, usd, usd > 0 || max === UNBOUNDED ? max : max - EPS)) {
        taken.push(c);
        continue;
      }
      for (const t of taken) await this.d.ledger.release(tenantId, t, usd);
      return this.refusal(tenantId, limits, usd, counterId(c));
    }
    try {
      await this.d.ledger.putReservation(tenantId, reservationId, { counters: taken, usd });
    } catch (e) {
      // e.g. a reservation under this id already exists: nothing taken here may stay counted
      for (const t of taken) await this.d.ledger.release(tenantId, t, usd);
      throw e;
    }
    return { ok: true, id: reservationId, usd, held: true };
  }

  /** Which budget refused: a forbid one if any is exhausted, else the tightest on the counter that refused. */
  private async refusal(tenantId: string, limits: Limit[], usd: number, refusedId: string): Promise<Reservation> {
    const spent = new Map<string, number>();
    for (const l of limits)
      if (!spent.has(counterId(l.c))) spent.set(counterId(l.c), await this.d.ledger.committed(tenantId, l.c));
    const exhausted = limits.filter((l) => spent.get(counterId(l.c))! > (usd > 0 ? l.usd : l.usd - EPS) - usd);
    const forbids = exhausted.filter((l) => l.over === 'forbid');
    const onRefused = limits.filter((l) => counterId(l.c) === refusedId);
    const pool = forbids.length ? forbids : exhausted.length ? exhausted : onRefused;
    if (!pool.length) return { ok: false, over: 'forbid', remaining_usd: 0 }; // a counter without a limit refused: fail closed
    const l = pool.reduce((a, b) => (b.usd < a.usd ? b : a));
    return {
      ok: false,
      over: l.over,
      remaining_usd: Math.max(0, Math.round((l.usd - spent.get(counterId(l.c))!) * 1e9) / 1e9),
      ...(l.yaml ? { budget: l.yaml } : {}),
    };
  }

  async settle(tenantId: string, reservationId: string, outcome: 'spent' | 'released'): Promise<void> {
    const r = await this.d.ledger.takeReservation(tenantId, reservationId);
    if (!r) return;
    for (const c of r.counters) await this.d.ledger.settle(tenantId, c, r.usd, outcome === 'spent' ? r.usd : 0);
  }

  /** Model spend reported by ingest moves every applicable counter and the agent's own (it already happened). */
  async record(tenantId: string, agentId: string, usd: number): Promise<void> {
    if (usd <= 0) return;
    const seen = new Set<string>();
    const counters = [
      ...(await this.applicable(tenantId, agentId)).map((x) => x.c),
      ...this.own(agentId, this.d.now()),
    ];
    for (const c of counters) {
      if (seen.has(counterId(c))) continue;
      seen.add(counterId(c));
      await this.d.ledger.addSettled(tenantId, c, usd);
    }
  }
}
