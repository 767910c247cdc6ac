/**
 * Usage roll-ups (C5.2) and price recomputation (event-time pricing). Pure apart from the ports.
 */
import { ValidationError } from '../../shared/errors.js';
import { costOf, DEFAULT_PRICES, type PriceTable } from './cost.js';
import type { SpanRecord, SpanStore } from './model.js';
import { daysBetween } from './traces.js';
import { HOT_RETENTION_DAYS } from './model.js';

/** Which agents belong to a cohort (inventory). */
export interface CohortDirectory {
  agentsOf(tenantId: string, cohort: string): Promise<string[]>;
  cohortOf(tenantId: string, agentId: string): Promise<string | null>;
}

export interface Window {
  readonly from: string;
  readonly to: string;
}

/** Default window: the last 30 days up to `now`; at most the hot retention. */
export function windowOf(q: { from?: string; to?: string }, now: Date): Window {
  const to = q.to ? new Date(Date.parse(q.to)) : now;
  const from = q.from ? new Date(Date.parse(q.from)) : new Date(to.getTime() - 30 * 86_400_000);
  if (from.getTime() > to.getTime())
    throw new ValidationError('from must not be after to', [{ path: 'from', message: 'after to' }]);
  if (to.getTime() - from.getTime() > HOT_RETENTION_DAYS * 86_400_000) {
    throw new ValidationError(`a usage window is at most ${HOT_RETENTION_DAYS} days`, [
      { path: 'from', message: 'window too long' },
    ]);
  }
  return { from: from.toISOString(), to: to.toISOString() };
}

export interface UsageTotals {
  usd: number;
  spans: number;
  priced_spans: number;
  unpriced_spans: number;
  tokens: { input: number; output: number; cache_read: number; cache_creation: number; reasoning: number };
  by_model: Record<string, number>;
}

const r9 = (n: number): number => Math.round(n * 1e9) / 1e9;

export function totals(spans: readonly SpanRecord[]): UsageTotals {
  const t: UsageTotals = {
    usd: 0,
    spans: 0,
    priced_spans: 0,
    unpriced_spans: 0,
    tokens: { input: 0, output: 0, cache_read: 0, cache_creation: 0, reasoning: 0 },
    by_model: {},
  };
  for (const s of spans) {
    t.spans++;
    if (s.usage) {
      t.tokens.input += s.usage.input ?? 0;
      t.tokens.output += s.usage.output ?? 0;
      t.tokens.cache_read += s.usage.cacheRead ?? 0;
      t.tokens.cache_creation += s.usage.cacheCreation ?? 0;
      t.tokens.reasoning += s.usage.reasoning ?? 0;
    }
    if (s.cost_usd === null) {
      if (s.usage || s.model) t.unpriced_spans++;
      continue;
    }
    t.priced_spans++;
    t.usd += s.cost_usd;
    const k = s.model ?? (s.tool_name ? `tool:${s.tool_name}` : 'unknown');
    t.by_model[k] = r9((t.by_model[k] ?? 0) + s.cost_usd);
  }
  t.usd = r9(t.usd);
  return t;
}

export async function agentUsage(deps: { spans: SpanStore }, tenantId: string, agentId: string, w: Window) {
  const spans = await deps.spans.spansByAgent(tenantId, agentId, w.from, w.to);
  return { agent_id: agentId, from: w.from, to: w.to, ...totals(spans) };
}

export async function cohortUsage(
  deps: { spans: SpanStore; cohorts: CohortDirectory },
  tenantId: string,
  cohort: string,
  w: Window,
) {
  const agents = await deps.cohorts.agentsOf(tenantId, cohort);
  const per = await Promise.all(
    agents.map(async (a) => ({ agent_id: a, spans: await deps.spans.spansByAgent(tenantId, a, w.from, w.to) })),
  );
  return {
    cohort_id: cohort,
    from: w.from,
    to: w.to,
    agents: per.map((p) => ({ agent_id: p.agent_id, usd: totals(p.spans).usd })),
    ...totals(per.flatMap((p) => p.spans)),
  };
}

export async function orgSummary(
  deps: { spans: SpanStore; cohorts: CohortDirectory },
  tenantId: string,
  groupBy: 'agent' | 'cohort' | 'model' | 'day',
  w: Window,
) {
  const spans = (
    await Promise.all(daysBetween(w.from, w.to).map((d) => deps.spans.spansByDay(tenantId, d, w.from, w.to)))
  ).flat();
  const groups = new Map<string, SpanRecord[]>();
  const cohortCache = new Map<string, string>();
  for (const s of spans) {
    let key: string;
    switch (groupBy) {
      case 'agent':
        key = s.agent_id ?? 'unattributed';
        break;
      case 'model':
        key = s.model ?? (s.tool_name ? `tool:${s.tool_name}` : 'none');
        break;
      case 'day':
        key = s.start_time.slice(0, 10);
        break;
      case 'cohort': {
        const a = s.agent_id;
        if (!a) key = 'unattributed';
        else {
          if (!cohortCache.has(a)) cohortCache.set(a, (await deps.cohorts.cohortOf(tenantId, a)) ?? 'none');
          key = cohortCache.get(a)!;
        }
        break;
      }
    }
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const items = [...groups].map(([key, ss]) => {
    const t = totals(ss);
    return { key, usd: t.usd, spans: t.spans, tokens: t.tokens };
  });
  items.sort((a, b) => b.usd - a.usd || a.key.localeCompare(b.key));
  return { group_by: groupBy, from: w.from, to: w.to, usd: totals(spans).usd, items };
}

/** Tenant prices first, then ARX's dated defaults. */
export const priceTables = (tenant: PriceTable | null): PriceTable[] =>
  tenant ? [tenant, DEFAULT_PRICES] : [DEFAULT_PRICES];

/**
 * Recomputes the cost of every hot span from `since` (the earliest changed `effective_from`) with
 * the given tables. Idempotent: cost is a pure function of a span's usage, model, tool, event
 * time and the tables, so a second run writes the same values (and reports 0 changed).
 */
export async function recomputeCosts(
  deps: { spans: SpanStore },
  tenantId: string,
  tables: readonly PriceTable[],
  since: Date,
  now: Date,
): Promise<{ scanned: number; changed: number }> {
  const floor = new Date(Math.max(since.getTime(), now.getTime() - HOT_RETENTION_DAYS * 86_400_000));
  let scanned = 0;
  let changed = 0;
  for (const day of daysBetween(floor.toISOString(), now.toISOString())) {
    const spans = await deps.spans.spansByDay(tenantId, day, floor.toISOString());
    const updates: SpanRecord[] = [];
    for (const s of spans) {
      scanned++;
      if (s.source !== 'otlp') continue;
      const c = costOf(tables, {
        provider: s.provider,
        model: s.model,
        tool: s.tool_name,
        usage: s.usage ?? {},
        at: Date.parse(s.start_time),
      });
      const usd = c?.usd ?? null;
      if (usd !== s.cost_usd || (c?.priced_as ?? null) !== s.priced_as)
        updates.push({ ...s, cost_usd: usd, priced_as: c?.priced_as ?? null });
    }
    if (updates.length) await deps.spans.putSpans(updates);
    changed += updates.length;
  }
  return { scanned, changed };
}
