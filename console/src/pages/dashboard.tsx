import type { AuditEvent } from '../../../sdk/contract.gen.js';
import { call } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import { Chart, ErrorNote, fmtDuration, pct, Section, useAsync } from '../ui.js';

const COLORS = ['#1f4e8c', '#b3261e', '#1b7f3b', '#8a5a00', '#6a3d9a', '#00707a'];
const DAY = 86_400_000;

/** Every audit event of a type, newest pages first, up to `max`. */
async function events(type: string, max = 500): Promise<{ items: AuditEvent[]; capped: boolean }> {
  const items: AuditEvent[] = [];
  let next: string | undefined;
  do {
    const r = await call('GET /v1/audit/events', { query: { type, limit: 100, next_token: next } });
    items.push(...r.items);
    next = r.next_token;
  } while (next && items.length < max);
  return { items, capped: !!next };
}

export function DashboardPage({ session }: PageProps) {
  const reader = hasRole(session, 'admin', 'auditor');
  const since = new Date(Date.now() - 30 * DAY).toISOString();
  const stats = useAsync(() => call('GET /v1/approvals/stats', { query: { since } }), []);
  const s = stats.data;
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
  const byPolicy = s ? groups(s.by_policy) : null;
  const byApprover = s ? groups(s.by_approver) : null;
  return (
    <>
      <Section title="Approvals (last 30 days)">
        <ErrorNote error={stats.error} />
        {s ? (
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
              {byPolicy ? (
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
              ) : null}
              {byApprover ? (
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
              ) : null}
            </div>
          </>
        ) : null}
      </Section>
      {reader ? <Activity /> : <p class="note">Actions, cost and terminations need the admin or auditor role.</p>}
    </>
  );
}

function Activity() {
  const acts = useAsync(async () => {
    const [decisions, executed, terminated] = await Promise.all([
      events('policy.decision'),
      events('operation.executed'),
      events('agent.terminated'),
    ]);
    return { decisions, executed, terminated };
  }, []);
  const days = 7;
  const today = Math.floor(Date.now() / DAY) * DAY;
  const dayStarts = Array.from({ length: days }, (_, i) => today - (days - 1 - i) * DAY);
  const cost = useAsync(
    () =>
      Promise.all(
        dayStarts.map((d) =>
          call('GET /v1/usage/org/summary', {
            query: { group_by: 'agent', from: new Date(d).toISOString(), to: new Date(d + DAY - 1).toISOString() },
          }),
        ),
      ),
    [],
  );
  const a = acts.data;
  const perAgent = new Map<string, { actions: number; denials: number }>();
  if (a) {
    for (const e of a.executed.items) {
      const k = e.agent_id ?? 'unknown';
      perAgent.set(k, { actions: (perAgent.get(k)?.actions ?? 0) + 1, denials: perAgent.get(k)?.denials ?? 0 });
    }
    for (const e of a.decisions.items)
      if (e.decision === 'forbid') {
        const k = e.agent_id ?? 'unknown';
        perAgent.set(k, { actions: perAgent.get(k)?.actions ?? 0, denials: (perAgent.get(k)?.denials ?? 0) + 1 });
      }
  }
  const agents = [...perAgent.keys()].sort((x, y) => perAgent.get(y)!.actions - perAgent.get(x)!.actions).slice(0, 12);
  const costAgents = new Map<string, number>();
  for (const day of cost.data ?? [])
    for (const it of day.items) costAgents.set(it.key, (costAgents.get(it.key) ?? 0) + it.usd);
  const topCost = [...costAgents.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 5)
    .map(([k]) => k);
  const termPerDay = dayStarts.map(
    (d) =>
      (a?.terminated.items ?? []).filter((e) => Date.parse(e.occurred_at) >= d && Date.parse(e.occurred_at) < d + DAY)
        .length,
  );
  const dayLabel = (d: number) => new Date(d).toISOString().slice(0, 10);
  return (
    <>
      <Section title="Actions and denials per agent">
        <ErrorNote error={acts.error} />
        {a ? (
          <>
            {a.executed.capped || a.decisions.capped ? (
              <p class="muted small">Counted from the latest 500 audit events of each type.</p>
            ) : null}
            <Chart
              title="Executed actions and denials per agent"
              bars
              x={agents.map((_, i) => i)}
              xLabels={agents.map((k) => k.slice(-8))}
              series={[
                { label: 'executed', values: agents.map((k) => perAgent.get(k)!.actions), color: COLORS[2]! },
                { label: 'denied', values: agents.map((k) => perAgent.get(k)!.denials), color: COLORS[1]! },
              ]}
              table={{
                head: ['Agent', 'Executed', 'Denied'],
                rows: agents.map((k) => [k, perAgent.get(k)!.actions, perAgent.get(k)!.denials]),
              }}
            />
          </>
        ) : null}
      </Section>
      <Section title="Cost per agent per day">
        <ErrorNote error={cost.error} />
        {cost.data ? (
          <Chart
            title="Cost per agent per day (USD, top 5 agents, last 7 days)"
            x={dayStarts.map((_, i) => i)}
            xLabels={dayStarts.map((d) => dayLabel(d).slice(5))}
            yFormat={(v) => `$${v.toFixed(3)}`}
            series={topCost.map((k, i) => ({
              label: k.slice(-8),
              values: cost.data!.map((day) => day.items.find((it) => it.key === k)?.usd ?? 0),
              color: COLORS[i % COLORS.length]!,
            }))}
            table={{
              head: ['Day', 'Agent', 'USD', 'Spans'],
              rows: cost.data.flatMap((day, i) =>
                day.items.map((it) => [dayLabel(dayStarts[i]!), it.key, it.usd.toFixed(6), it.spans]),
              ),
            }}
          />
        ) : null}
      </Section>
      <Section title="Terminations">
        {a ? (
          <Chart
            title="Agents terminated per day (last 7 days)"
            bars
            x={dayStarts.map((_, i) => i)}
            xLabels={dayStarts.map((d) => dayLabel(d).slice(5))}
            series={[{ label: 'terminated', values: termPerDay, color: COLORS[1]! }]}
            table={{
              head: ['When', 'Agent', 'Action', 'Decision'],
              rows: a.terminated.items.map((e) => [e.occurred_at, e.agent_id ?? '—', e.action, e.decision ?? '—']),
            }}
          />
        ) : null}
      </Section>
    </>
  );
}
