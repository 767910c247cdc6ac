/**
 * Budgets (the brief's cost-control case): per agent or cohort, per day or month. Spend is kept in
 * counters per (scope, period) that the ingest path (model spend) and the governed-action path
 * (tool spend) both move. Actions reserve before they run and settle after, with a conditional
 * write on `committed = settled + reserved`, so two concurrent actions against the last dollar
 * cannot both pass.
 */
import type { Reservation, SpendContext, SpendGate } from '../../shared/ports.js';
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

  async reserve(tenantId: string, agentId: string, action: string, reservationId: string): Promise<Reservation> {
    const all = await this.applicable(tenantId, agentId);
    const price = toolPriceFor(await this.d.prices(tenantId), action, this.d.now().getTime());
    const usd = price?.unit_cost ?? 0;
    if (!all.length && usd <= 0) return { ok: true, id: reservationId, usd: 0, held: false };
    const taken: Counter[] = [];
    for (const { b, c } of all) {
      // With nothing to reserve, an exhausted budget still refuses (committed must stay < limit).
      const ok = await this.d.ledger.tryReserve(tenantId, c, usd, usd > 0 ? b.usd : b.usd - 1e-9);
      if (!ok) {
        for (const t of taken) await this.d.ledger.release(tenantId, t, usd);
        const spent = await this.d.ledger.committed(tenantId, c);
        return { ok: false, over: b.over, remaining_usd: Math.max(0, b.usd - spent) };
      }
      taken.push(c);
    }
    // The agent's own counters move too (no limit of their own: a YAML budget is a policy decision).
    if (usd > 0) {
      const held = new Set(taken.map(counterId));
      for (const c of this.own(agentId, this.d.now())) {
        if (held.has(counterId(c))) continue;
        await this.d.ledger.tryReserve(tenantId, c, usd, Number.MAX_SAFE_INTEGER);
        taken.push(c);
      }
    }
    await this.d.ledger.putReservation(tenantId, reservationId, { counters: taken, usd });
    return { ok: true, id: reservationId, usd, held: true };
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
