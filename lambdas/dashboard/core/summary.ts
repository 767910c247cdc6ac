/**
 * The dashboard's numbers over one window, computed on the server from the capabilities that own
 * them: approvals (actions), decisions, executions and terminations (the audit chain), cost
 * (observability). Pure: the sources are ports, the clock is not needed (the window is given).
 */
import { ValidationError } from '../../shared/errors.js';

/** Longest window a summary covers. */
export const MAX_WINDOW_DAYS = 31;
/** Most audit events one summary reads; beyond it the summary says it is truncated. */
export const MAX_AUDIT_EVENTS = 50_000;

const DAY_MS = 86_400_000;

/** What the summary needs of the approvals' statistics (the shape `GET /v1/approvals/stats` answers). */
export interface ApprovalStatsView {
  readonly total: number;
  readonly approval_rate: number | null;
  readonly denial_rate: number | null;
  /** More approvals than one window reads: the numbers cover the newest of them. */
  readonly truncated: boolean;
}

export interface WindowEvent {
  readonly event_type: string;
  readonly agent_id: string | null;
  readonly decision: string | null;
  readonly occurred_at: string;
  readonly action: string;
}

export interface DashboardSources {
  readonly approvals: { stats(tenantId: string, from: string, to: string): Promise<ApprovalStatsView> };
  readonly audit: {
    eventsBetween(
      tenantId: string,
      from: string,
      to: string,
      o: { types: readonly string[]; max: number },
    ): Promise<{ events: readonly WindowEvent[]; truncated: boolean }>;
  };
  readonly cost: {
    perAgentPerDay(
      tenantId: string,
      from: string,
      to: string,
    ): Promise<readonly { day: string; agent_id: string; usd: number; spans: number }[]>;
  };
}

export interface Window {
  readonly from: string;
  readonly to: string;
}

/** from < to, at most {@link MAX_WINDOW_DAYS} days; anything else is a 400. */
export function checkWindow(q: { from: string; to: string }): Window {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  if (!(from < to)) throw new ValidationError('from must be before to', [{ path: 'from', message: 'not before to' }]);
  // Event ids encode their time from the Unix epoch: nothing ARX recorded is older.
  if (from < 0) throw new ValidationError('from must not be before 1970', [{ path: 'from', message: 'before 1970' }]);
  if (to - from > MAX_WINDOW_DAYS * DAY_MS)
    throw new ValidationError(`a summary window is at most ${MAX_WINDOW_DAYS} days`, [
      { path: 'to', message: `more than ${MAX_WINDOW_DAYS} days after from` },
    ]);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

const round9 = (n: number): number => Math.round(n * 1e9) / 1e9;

/** The UTC days the window touches, oldest first. */
export function daysOf(w: Window): string[] {
  const out: string[] = [];
  const last = Date.parse(new Date(Date.parse(w.to) - 1).toISOString().slice(0, 10));
  for (let t = Date.parse(w.from.slice(0, 10)); t <= last; t += DAY_MS)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

export const COUNTED_EVENTS = ['operation.executed', 'policy.decision', 'decision.denied', 'agent.terminated'] as const;

export async function dashboardSummary(src: DashboardSources, tenantId: string, w: Window) {
  const [approvals, audit, cost] = await Promise.all([
    src.approvals.stats(tenantId, w.from, w.to),
    src.audit.eventsBetween(tenantId, w.from, w.to, { types: COUNTED_EVENTS, max: MAX_AUDIT_EVENTS }),
    src.cost.perAgentPerDay(tenantId, w.from, w.to),
  ]);
  const days = daysOf(w);
  const { truncated: approvalsTruncated, ...approvalStats } = approvals;

  const per = new Map<string, { executed: number; forbidden: number; denied_by_approver: number }>();
  const row = (a: string | null) => {
    const k = a ?? 'unattributed';
    const r = per.get(k) ?? { executed: 0, forbidden: 0, denied_by_approver: 0 };
    per.set(k, r);
    return r;
  };
  const terminations: { agent_id: string | null; occurred_at: string; action: string }[] = [];
  for (const e of audit.events) {
    if (e.event_type === 'operation.executed') row(e.agent_id).executed++;
    else if (e.event_type === 'policy.decision' && e.decision === 'forbid') row(e.agent_id).forbidden++;
    else if (e.event_type === 'decision.denied') row(e.agent_id).denied_by_approver++;
    else if (e.event_type === 'agent.terminated')
      terminations.push({ agent_id: e.agent_id, occurred_at: e.occurred_at, action: e.action });
  }
  const agents = [...per]
    .map(([agent_id, r]) => ({ agent_id, ...r, denied: r.forbidden + r.denied_by_approver }))
    .sort((a, b) => b.executed - a.executed || b.denied - a.denied || a.agent_id.localeCompare(b.agent_id));
  terminations.sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));

  const costRows = [...cost].sort((a, b) => a.day.localeCompare(b.day) || a.agent_id.localeCompare(b.agent_id));
  const costByAgent = new Map<string, number>();
  for (const c of costRows) costByAgent.set(c.agent_id, round9((costByAgent.get(c.agent_id) ?? 0) + c.usd));

  return {
    from: w.from,
    to: w.to,
    days,
    approvals: approvalStats,
    agents,
    cost: {
      usd: round9(costRows.reduce((s, c) => s + c.usd, 0)),
      by_agent: [...costByAgent]
        .map(([agent_id, usd]) => ({ agent_id, usd }))
        .sort((a, b) => b.usd - a.usd || a.agent_id.localeCompare(b.agent_id)),
      per_agent_day: costRows.map((c) => ({ day: c.day, agent_id: c.agent_id, usd: c.usd, spans: c.spans })),
    },
    terminations: {
      count: terminations.length,
      per_day: days.map((day) => ({ day, count: terminations.filter((t) => t.occurred_at.startsWith(day)).length })),
      items: terminations,
    },
    truncated: { approvals: approvalsTruncated, audit_events: audit.truncated },
  };
}
