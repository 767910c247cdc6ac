import { useState } from 'preact/hooks';
import { call, type Ok } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import { Chart, ErrorNote, fmtDuration, fmtUsd, pct, Section, useAsync } from '../ui.js';

const COLORS = ['#1f4e8c', '#b3261e', '#1b7f3b', '#8a5a00', '#6a3d9a', '#00707a'];
const DAY = 86_400_000;
const WINDOWS = [1, 7, 30] as const;

type Stats = Ok<'GET /v1/approvals/stats'>;
type Summary = Ok<'GET /v1/dashboard/summary'>;

/**
 * The dashboard. Admins and auditors read one server-side summary over the chosen window
 * (`GET /v1/dashboard/summary`); approvers, who may not read per-agent activity or cost, see the
 * approvals' numbers (`GET /v1/approvals/stats`).
 */
export function DashboardPage({ session }: PageProps) {
  const reader = hasRole(session, 'admin', 'auditor');
  const [days, setDays] = useState<(typeof WINDOWS)[number]>(7);
  // The window ends at the next full minute, so re-renders ask for the same one.
  const to = Math.ceil(Date.now() / 60_000) * 60_000;
  const from = to - days * DAY;
  const w = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  const summary = useAsync(
    () => (reader ? call('GET /v1/dashboard/summary', { query: w }) : Promise.resolve(null)),
    [reader, days],
  );
  const stats = useAsync(
    () => (reader ? Promise.resolve(null) : call('GET /v1/approvals/stats', { query: { since: w.from } })),
    [reader, days],
  );
  const s = summary.data;
  const approvals: Stats | null | undefined = s ? s.approvals : stats.data;
  return (
    <>
      <div class="row">
        <label>
          Window{' '}
          <select
            value={String(days)}
            onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value) as (typeof WINDOWS)[number])}
          >
            {WINDOWS.map((d) => (
              <option key={d} value={String(d)}>
                last {d === 1 ? '24 hours' : `${d} days`}
              </option>
            ))}
          </select>
        </label>
        {s && (s.truncated.approvals || s.truncated.audit_events) ? (
          <span class="muted small" role="status">
            The window holds more {s.truncated.approvals ? 'approvals' : 'audit events'} than one summary reads: the
            numbers cover the newest.
          </span>
        ) : null}
      </div>
      <Section title={`Approvals (last ${days === 1 ? '24 hours' : `${days} days`})`}>
        <ErrorNote error={summary.error ?? stats.error} />
        {approvals ? <ApprovalCharts s={approvals} /> : null}
      </Section>
      {reader ? (
        s ? (
          <Activity s={s} />
        ) : null
      ) : (
        <p class="note">Actions, cost and terminations need the admin or auditor role.</p>
      )}
    </>
  );
}

function ApprovalCharts({ s }: { s: Stats }) {
  const groups = (
    g: Record<string, { time_to_decision: { p50_ms: number | null; p95_ms: number | null; count: number } }>,
  ) => {
    const names = Object.keys(g).sort();
    return {
      names,
      p50: names.map((n) => (g[n]!.time_to_decision.p50_ms ?? 0) / 1000),
      p95: names.map((n) => (g[n]!.time_to_decision.p95_ms ?? 0) / 1000),
      rows: names.map((n) => [
        n,
        g[n]!.time_to_decision.count,
        fmtDuration(g[n]!.time_to_decision.p50_ms),
        fmtDuration(g[n]!.time_to_decision.p95_ms),
      ]),
    };
  };
  const byPolicy = groups(s.by_policy);
  const byApprover = groups(s.by_approver);
  const rateRows = (g: Stats['by_policy']) =>
    Object.keys(g)
      .sort()
      .map((n) => [n, g[n]!.total, g[n]!.approved, g[n]!.denied, g[n]!.expired, pct(g[n]!.approval_rate)]);
  return (
    <>
      <dl class="facts tiles">
        <div>
          <dt>Approval rate</dt>
          <dd class="big">{pct(s.approval_rate)}</dd>
        </div>
        <div>
          <dt>Denial rate</dt>
          <dd class="big">{pct(s.denial_rate)}</dd>
        </div>
        <div>
          <dt>Time to decision</dt>
          <dd class="big">{s.time_to_decision.p50 ?? '—'}</dd>
          <dd>p50 · p95 {s.time_to_decision.p95 ?? '—'}</dd>
        </div>
        <div>
          <dt>Requests</dt>
          <dd class="big">{s.total}</dd>
          <dd>
            {s.approved} approved, {s.denied} denied, {s.expired} expired, {s.pending} pending
          </dd>
        </div>
      </dl>
      <div class="charts">
        <Chart
          title="Approval and denial rate per policy (%)"
          bars
          x={byPolicy.names.map((_, i) => i)}
          xLabels={byPolicy.names}
          series={[
            {
              label: 'approved',
              values: byPolicy.names.map((n) => (s.by_policy[n]!.approval_rate ?? 0) * 100),
              color: COLORS[2]!,
            },
            {
              label: 'denied',
              values: byPolicy.names.map((n) => (s.by_policy[n]!.denial_rate ?? 0) * 100),
              color: COLORS[1]!,
            },
          ]}
          table={{
            head: ['Policy', 'Requests', 'Approved', 'Denied', 'Expired', 'Approved %'],
            rows: rateRows(s.by_policy),
          }}
        />
        <Chart
          title="Time to decision per policy (s)"
          bars
          x={byPolicy.names.map((_, i) => i)}
          xLabels={byPolicy.names}
          series={[
            { label: 'p50', values: byPolicy.p50, color: COLORS[0]! },
            { label: 'p95', values: byPolicy.p95, color: COLORS[3]! },
          ]}
          table={{ head: ['Policy', 'Decisions', 'p50', 'p95'], rows: byPolicy.rows }}
        />
        <Chart
          title="Time to decision per approver (s)"
          bars
          x={byApprover.names.map((_, i) => i)}
          xLabels={byApprover.names}
          series={[
            { label: 'p50', values: byApprover.p50, color: COLORS[0]! },
            { label: 'p95', values: byApprover.p95, color: COLORS[3]! },
          ]}
          table={{ head: ['Approver', 'Decisions', 'p50', 'p95'], rows: byApprover.rows }}
        />
      </div>
    </>
  );
}

function Activity({ s }: { s: Summary }) {
  const agents = s.agents.slice(0, 12);
  const topCost = s.cost.by_agent.slice(0, 5).map((a) => a.agent_id);
  // At most about eight day labels on an axis (30 days of "MM-DD" overlap); the tables list every day.
  const step = Math.ceil(s.days.length / 8);
  const dayLabels = s.days.map((d, i) => (i % step === 0 ? d.slice(5) : ''));
  return (
    <>
      <Section title="Actions and denials per agent">
        <Chart
          title="Executed actions and denials per agent"
          bars
          x={agents.map((_, i) => i)}
          xLabels={agents.map((a) => a.agent_id.slice(-8))}
          series={[
            { label: 'executed', values: agents.map((a) => a.executed), color: COLORS[2]! },
            { label: 'denied', values: agents.map((a) => a.denied), color: COLORS[1]! },
          ]}
          table={{
            head: ['Agent', 'Executed', 'Forbidden by policy', 'Denied by an approver'],
            rows: s.agents.map((a) => [a.agent_id, a.executed, a.forbidden, a.denied_by_approver]),
          }}
        />
      </Section>
      <Section title="Cost per agent per day">
        <p class="muted small">Total {fmtUsd(s.cost.usd)} over the window.</p>
        <Chart
          title={`Cost per agent per day (USD, top ${topCost.length} agents)`}
          x={s.days.map((_, i) => i)}
          xLabels={dayLabels}
          yFormat={(v) => `$${v.toFixed(3)}`}
          series={topCost.map((k, i) => ({
            label: k.slice(-8),
            values: s.days.map((d) => s.cost.per_agent_day.find((c) => c.day === d && c.agent_id === k)?.usd ?? 0),
            color: COLORS[i % COLORS.length]!,
          }))}
          table={{
            head: ['Day', 'Agent', 'USD', 'Spans'],
            rows: s.cost.per_agent_day.map((c) => [c.day, c.agent_id, c.usd.toFixed(6), c.spans]),
          }}
        />
      </Section>
      <Section title="Terminations">
        <Chart
          title={`Agents terminated per day (${s.terminations.count} in the window)`}
          bars
          x={s.days.map((_, i) => i)}
          xLabels={dayLabels}
          series={[{ label: 'terminated', values: s.terminations.per_day.map((d) => d.count), color: COLORS[1]! }]}
          table={{
            head: ['When', 'Agent', 'Action'],
            rows: s.terminations.items.map((t) => [t.occurred_at, t.agent_id ?? '—', t.action]),
          }}
        />
      </Section>
    </>
  );
}
