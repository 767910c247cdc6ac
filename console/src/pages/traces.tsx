import { useState } from 'preact/hooks';
import type { TraceSpan } from '../../../sdk/contract.gen.js';
import { call, type Ok } from '../api.js';
import type { PageProps } from '../roles.js';
import { CanonicalJson, ErrorNote, fmtDuration, fmtTime, fmtUsd, Section, StatusBadge, useAsync } from '../ui.js';

const isoLocal = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

export function TracesPage({ rest }: PageProps) {
  if (rest) return <Waterfall traceId={decodeURIComponent(rest)} />;
  return <TraceSearch />;
}

type SearchQuery = { from: string; to: string; agent_id?: string; operation?: string; has_approval?: boolean };

function TraceSearch() {
  const [q, setQ] = useState<SearchQuery>(() => {
    const to = new Date(Date.now() + 60_000);
    return { from: new Date(to.getTime() - 86_400_000).toISOString(), to: to.toISOString() };
  });
  const res = useAsync(() => call('POST /v1/traces/search', { body: { ...q, limit: 100 } }), [q]);
  return (
    <>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.target as HTMLFormElement);
          const s = (k: string) => String(f.get(k) ?? '').trim();
          setQ({
            from: new Date(s('from')).toISOString(),
            to: new Date(s('to')).toISOString(),
            ...(s('agent') ? { agent_id: s('agent') } : {}),
            ...(s('operation') ? { operation: s('operation') } : {}),
            ...(f.get('approval') ? { has_approval: true } : {}),
          });
        }}
      >
        <label>
          From <input name="from" type="datetime-local" required defaultValue={isoLocal(new Date(q.from))} />
        </label>
        <label>
          To <input name="to" type="datetime-local" required defaultValue={isoLocal(new Date(q.to))} />
        </label>
        <label>
          Agent id <input name="agent" defaultValue={q.agent_id ?? ''} />
        </label>
        <label>
          Operation <input name="operation" defaultValue={q.operation ?? ''} />
        </label>
        <label class="check">
          <input name="approval" type="checkbox" defaultChecked={!!q.has_approval} /> with an approval
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={res.error} />
      <Section title={`Traces (${res.data?.items.length ?? '…'})`}>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Trace</th>
                <th scope="col">Started</th>
                <th scope="col">Spans</th>
                <th scope="col">Agents</th>
                <th scope="col">Operations</th>
                <th scope="col">Approval</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {(res.data?.items ?? []).map((t) => (
                <tr key={t.trace_id}>
                  <td>
                    <a href={`#/traces/${t.trace_id}`}>
                      <code>{t.trace_id}</code>
                    </a>
                  </td>
                  <td>{fmtTime(t.start_time)}</td>
                  <td>{t.span_count}</td>
                  <td class="wrap">{t.agent_ids.join(', ')}</td>
                  <td class="wrap">{t.operations.join(', ')}</td>
                  <td>{t.has_approval ? 'yes' : 'no'}</td>
                  <td>{fmtUsd(t.cost.usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {res.data && res.data.items.length === 0 ? <p class="muted">No trace in this window.</p> : null}
      </Section>
    </>
  );
}

type Trace = Ok<'GET /v1/traces/{trace_id}'>;

const kindOf = (s: TraceSpan): string =>
  s.name === 'arx.decision'
    ? 'decision'
    : s.name === 'arx.approval'
      ? 'approval'
      : s.name === 'arx.execution'
        ? 'execution'
        : s.source === 'arx'
          ? 'arx'
          : 'agent';

function depthOf(spans: readonly TraceSpan[]): Map<string, number> {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const depth = new Map<string, number>();
  const d = (s: TraceSpan, seen = 0): number => {
    if (depth.has(s.span_id)) return depth.get(s.span_id)!;
    const parent = s.parent_span_id ? byId.get(s.parent_span_id) : undefined;
    const v = parent && seen < 32 ? d(parent, seen + 1) + 1 : 0;
    depth.set(s.span_id, v);
    return v;
  };
  for (const s of spans) d(s);
  return depth;
}

/** Parents before their children, siblings by start time: the order a waterfall reads in. */
function treeOrder(spans: readonly TraceSpan[]): TraceSpan[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const kids = new Map<string, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const s of spans) {
    const p = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : null;
    if (p) kids.set(p, [...(kids.get(p) ?? []), s]);
    else roots.push(s);
  }
  const byStart = (a: TraceSpan, b: TraceSpan) => {
    const x = BigInt(a.start_time_unix_nano);
    const y = BigInt(b.start_time_unix_nano);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const out: TraceSpan[] = [];
  const seen = new Set<string>();
  const walk = (s: TraceSpan) => {
    if (seen.has(s.span_id)) return;
    seen.add(s.span_id);
    out.push(s);
    for (const c of (kids.get(s.span_id) ?? []).sort(byStart)) walk(c);
  };
  for (const r of roots.sort(byStart)) walk(r);
  for (const s of spans) walk(s); // spans in a parent cycle still show
  return out;
}

function Waterfall({ traceId }: { traceId: string }) {
  // ARX's own spans reach the store shortly after the action: a partial trace is read again.
  const [partial, setPartial] = useState(false);
  const t = useAsync(
    async () => {
      const r = await call('GET /v1/traces/{trace_id}', { path: { trace_id: traceId } });
      setPartial(r.partial);
      return r;
    },
    [traceId],
    partial ? 3000 : undefined,
  );
  const [selected, setSelected] = useState<string | null>(null);
  const data: Trace | undefined = t.data;
  const spans = treeOrder(data?.spans ?? []);
  const ns = (v: string) => Number(BigInt(v) / 1000n) / 1000; // ms
  const start = spans.length ? Math.min(...spans.map((s) => ns(s.start_time_unix_nano))) : 0;
  const end = spans.length ? Math.max(...spans.map((s) => ns(s.end_time_unix_nano))) : 1;
  const total = Math.max(1, end - start);
  const depth = depthOf(spans);
  const sel = spans.find((s) => s.span_id === selected);
  return (
    <>
      <p>
        <a href="#/traces">← All traces</a>
      </p>
      <h2>
        Trace <code>{traceId}</code>
      </h2>
      <ErrorNote error={t.error} />
      {data ? (
        <>
          <dl class="facts inline">
            <dt>Spans</dt>
            <dd>{spans.length}</dd>
            <dt>Duration</dt>
            <dd>{fmtDuration(total)}</dd>
            <dt>Total cost</dt>
            <dd>
              {fmtUsd(data.cost.usd)}
              {Object.keys(data.cost.by_model).length
                ? ` (${Object.entries(data.cost.by_model)
                    .map(([m, v]) => `${m} ${fmtUsd(v)}`)
                    .join(', ')})`
                : ''}
            </dd>
          </dl>
          {data.partial ? (
            <p class="warn" role="status">
              Partial trace: {data.missing.join(', ')} missing. What is shown is all ARX has now; this page reads the
              trace again every 3 s.
            </p>
          ) : null}
          <table class="waterfall">
            <caption class="sr-only">Waterfall of the trace's spans</caption>
            <thead>
              <tr>
                <th scope="col">Span</th>
                <th scope="col" class="wf-timeline">
                  Timeline (0 – {fmtDuration(total)})
                </th>
                <th scope="col">Duration</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {spans.map((s) => {
                const off = ((ns(s.start_time_unix_nano) - start) / total) * 100;
                const width = Math.max(0.5, ((ns(s.end_time_unix_nano) - ns(s.start_time_unix_nano)) / total) * 100);
                const kind = kindOf(s);
                return (
                  <tr class={selected === s.span_id ? 'selected' : ''} key={s.span_id}>
                    <td style={{ paddingLeft: `${0.5 + (depth.get(s.span_id) ?? 0) * 1.1}rem` }}>
                      <button
                        type="button"
                        class="link"
                        aria-expanded={selected === s.span_id}
                        onClick={() => setSelected(selected === s.span_id ? null : s.span_id)}
                      >
                        {s.name}
                      </button>{' '}
                      <span class={`kind kind-${kind}`}>{kind}</span>
                    </td>
                    <td class="wf-cell">
                      <span class="wf-track">
                        <span
                          class={`wf-bar kind-${kind}`}
                          style={{ left: `${off}%`, width: `${Math.min(width, 100 - off)}%` }}
                        />
                      </span>
                    </td>
                    <td>{fmtDuration(s.duration_ms)}</td>
                    <td>{s.cost_usd === null ? '—' : fmtUsd(s.cost_usd)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {sel ? (
            <Section title={`Span ${sel.name}`}>
              <p>
                {sel.source} span <code>{sel.span_id}</code>, started {fmtTime(sel.start_time)}
                {sel.agent_id ? ` by ${sel.agent_id}` : ''}
              </p>
              <CanonicalJson value={sel.attributes} label={`Attributes of ${sel.name}`} />
            </Section>
          ) : null}
          <Section title="ARX's decisions">
            <ul>
              {data.decisions.map((d, i) => (
                <li key={i}>
                  <code>{String(d.action ?? d.action_id)}</code>: <StatusBadge status={String(d.effect)} /> approval{' '}
                  {String(d.approval)}, risk {String(d.risk)}, policy {String(d.policy ?? '—')}
                </li>
              ))}
            </ul>
          </Section>
          <Section title="Approvals">
            <ul>
              {data.approvals.map((a) => (
                <li key={String(a.approval_id)}>
                  <StatusBadge status={String(a.status)} /> {String(a.operation)} — waited{' '}
                  {a.decided_at
                    ? fmtDuration(Date.parse(String(a.decided_at)) - Date.parse(String(a.created_at)))
                    : 'still waiting'}
                  {a.decided_by ? `, decided by ${String(a.decided_by)}` : ''}
                </li>
              ))}
            </ul>
          </Section>
          <Section title="Actions">
            <ul>
              {data.actions.map((a) => (
                <li key={String(a.action_id)}>
                  <code>{String(a.action_id)}</code> {String(a.connector)} · {String(a.operation)}{' '}
                  <StatusBadge status={String(a.status)} />
                </li>
              ))}
            </ul>
          </Section>
        </>
      ) : null}
    </>
  );
}
