import type { ApprovalRecord } from './model.js';

export interface DecisionTimes {
  readonly count: number;
  readonly p50_ms: number | null;
  readonly p95_ms: number | null;
  /** e.g. "2 min 15 s" */
  readonly p50: string | null;
  readonly p95: string | null;
}

export interface ApprovalGroupStats {
  readonly total: number;
  readonly pending: number;
  readonly approved: number;
  readonly denied: number;
  readonly expired: number;
  readonly cancelled: number;
  /** approved / decided (approved + denied + expired); null when nothing was decided. */
  readonly approval_rate: number | null;
  readonly denial_rate: number | null;
  readonly time_to_decision: DecisionTimes;
}

export interface ApprovalStats extends ApprovalGroupStats {
  readonly by_policy: Record<string, ApprovalGroupStats>;
  readonly by_approver: Record<string, ApprovalGroupStats>;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** 135000 → "2 min 15 s"; 3_723_000 → "1 h 2 min 3 s"; 800 → "0.8 s". */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${(ms / 1000).toFixed(1)} s`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (s || parts.length === 0) parts.push(`${s} s`);
  return parts.join(' ');
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function group(items: readonly ApprovalRecord[]): ApprovalGroupStats {
  const by = (s: ApprovalRecord['status']) => items.filter((a) => a.status === s).length;
  const approved = by('approved');
  const denied = by('denied');
  const expired = by('expired');
  const decided = approved + denied + expired;
  const times = items
    .filter((a) => (a.status === 'approved' || a.status === 'denied') && a.decided_at)
    .map((a) => Date.parse(a.decided_at!) - Date.parse(a.created_at))
    .filter((x) => Number.isFinite(x) && x >= 0)
    .sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  return {
    total: items.length,
    pending: by('pending'),
    approved,
    denied,
    expired,
    cancelled: by('cancelled'),
    approval_rate: decided ? round(approved / decided) : null,
    denial_rate: decided ? round(denied / decided) : null,
    time_to_decision: {
      count: times.length,
      p50_ms: p50,
      p95_ms: p95,
      p50: p50 === null ? null : humanDuration(p50),
      p95: p95 === null ? null : humanDuration(p95),
    },
  };
}

/** `GET /v1/approvals/stats`: rates and time-to-decision p50/p95, overall, per policy and per approver. */
export function approvalStats(items: readonly ApprovalRecord[]): ApprovalStats {
  const byKey = (key: (a: ApprovalRecord) => string | undefined) => {
    const m = new Map<string, ApprovalRecord[]>();
    for (const a of items) {
      const k = key(a);
      if (k === undefined) continue;
      m.set(k, [...(m.get(k) ?? []), a]);
    }
    return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, group(v)]));
  };
  return {
    ...group(items),
    by_policy: byKey((a) => a.policy ?? '(none)'),
    by_approver: byKey((a) => (a.status === 'approved' || a.status === 'denied' ? a.decided_by : undefined)),
  };
}
