import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { errorText } from './api.js';

export interface Async<T> {
  readonly data?: T | undefined;
  readonly error?: string | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Runs `fn` on mount, when `deps` change, on reload() and every `pollMs` if given. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[], pollMs?: number): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await fnRef.current();
        if (live) setState({ data, loading: false });
      } catch (e) {
        if (live) setState((s) => ({ ...s, error: errorText(e), loading: false }));
      }
      if (live && pollMs) timer = setTimeout(run, pollMs);
    };
    void run();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick, pollMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Re-renders every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`;
  return neg ? `-${out}` : out;
}

export const fmtTime = (iso: string | null | undefined): string =>
  iso
    ? new Date(iso).toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    : '—';
export const fmtUsd = (n: number | null | undefined): string =>
  n === null || n === undefined ? '—' : `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(4)}`;
export const pct = (n: number | null | undefined): string =>
  n === null || n === undefined ? '—' : `${(n * 100).toFixed(1)} %`;

/** A live countdown to `until`: the approval's SLA. */
export function Countdown({ until }: { until: string }) {
  const now = useNow(1000);
  const left = Date.parse(until) - now;
  const cls = left <= 0 ? 'sla expired' : left < 5 * 60_000 ? 'sla urgent' : 'sla';
  return (
    <time class={cls} dateTime={until} title={fmtTime(until)}>
      {left <= 0 ? `expired ${fmtDuration(-left)} ago` : `${fmtDuration(left)} left`}
    </time>
  );
}

/** JSON with every object's keys in canonical (sorted) order, shown whole: never cut. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

export function CanonicalJson({ value, label }: { value: unknown; label: string }) {
  const text = JSON.stringify(canonical(value), null, 2);
  return (
    <pre class="json" title={label}>
      {text}
    </pre>
  );
}

export function RiskBadge({ risk }: { risk: string }) {
  return <span class={`badge risk-${risk}`}>{risk}</span>;
}
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status.replace(/_/g, ' ')}</span>;
}

export function ErrorNote({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A modal dialog (the platform's <dialog>: focus kept inside, Escape closes). */
export function Dialog(props: { title: string; open: boolean; onClose(): void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={props.onClose} onCancel={props.onClose}>
      {props.open ? (
        <>
          <h2 id="dialog-title">{props.title}</h2>
          {props.children}
        </>
      ) : null}
    </dialog>
  );
}

/** A reason-and-confirm form inside a dialog. */
export function ReasonForm(props: {
  required: boolean;
  confirmLabel?: string;
  danger?: boolean;
  onConfirm(reason: string): Promise<void>;
  onCancel(): void;
  children?: ComponentChildren;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (props.required && !reason.trim()) return setError('A reason is required.');
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm(reason.trim());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      {props.children}
      <label for="reason-field">Reason{props.required ? '' : ' (optional)'}</label>
      <textarea
        id="reason-field"
        rows={3}
        maxLength={1000}
        aria-required={props.required}
        value={reason}
        onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
      />
      <ErrorNote error={error} />
      <div class="row end">
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class={props.danger ? 'danger' : ''} disabled={busy}>
          {busy ? 'Working…' : (props.confirmLabel ?? 'Confirm')}
        </button>
      </div>
    </form>
  );
}

export interface ChartProps {
  readonly title: string;
  /** x values (numbers or unix seconds for time axes) and one array per series. */
  readonly x: readonly number[];
  readonly series: readonly { label: string; values: readonly (number | null)[]; color: string }[];
  readonly bars?: boolean;
  readonly time?: boolean;
  readonly xLabels?: readonly string[];
  readonly yFormat?: (v: number) => string;
  /** The numbers behind the chart, a click away. */
  readonly table: { head: readonly string[]; rows: readonly (readonly (string | number)[])[] };
}

export function Chart(p: ChartProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || p.x.length === 0) return;
    const width = Math.max(260, el.clientWidth || 480);
    const m = p.series.length;
    // Bars are categorical and grouped: series k of category c sits at c + offset(k).
    const slot = 0.8 / Math.max(1, m);
    const xs = p.bars
      ? p.x.flatMap((_, c) => p.series.map((_s, k) => c + (k - (m - 1) / 2) * slot))
      : (p.x as number[]);
    const ys = p.series.map((s, k) =>
      p.bars ? p.x.flatMap((_, c) => p.series.map((_s, j) => (j === k ? (s.values[c] ?? null) : null))) : s.values,
    );
    const max = Math.max(0, ...p.series.flatMap((s) => s.values.map((v) => v ?? 0)));
    const label = (v: number) => (p.yFormat ? p.yFormat(v) : String(Math.round(v * 1000) / 1000));
    const plot = new uPlot(
      {
        width,
        height: 220,
        legend: { live: false },
        scales: {
          x: p.bars
            ? { time: false, range: () => [-0.6, p.x.length - 0.4] }
            : p.xLabels
              ? { time: false, range: () => [-0.2, p.x.length - 0.8] }
              : { time: !!p.time },
          y: { range: () => [0, max > 0 ? max * 1.15 : 1] },
        },
        axes: [
          p.bars || p.xLabels
            ? {
                splits: () => p.x.map((_, c) => c),
                values: (_u: uPlot, vals: number[]) => vals.map((v) => p.xLabels?.[v] ?? String(p.x[v] ?? '')),
                grid: { show: false },
              }
            : {},
          { values: (_u: uPlot, vals: number[]) => vals.map(label), size: 70 },
        ],
        series: [
          { label: p.bars ? 'category' : p.time ? 'day' : 'x' },
          ...p.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: p.bars ? s.color : undefined,
            width: p.bars ? 1 : 2,
            spanGaps: !p.bars,
            ...(p.bars ? { paths: uPlot.paths.bars!({ size: [0.9, 80] }) } : {}),
            points: { show: !p.bars },
          })),
        ],
      },
      [xs, ...ys] as uPlot.AlignedData,
      el,
    );
    // The chart follows its box: a narrower window narrows it instead of overflowing.
    const ro = new ResizeObserver(() => {
      const w = Math.max(260, el.clientWidth);
      if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: 220 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [p]);
  return (
    <figure class="chart">
      <figcaption>{p.title}</figcaption>
      {p.x.length === 0 ? (
        <p class="muted">No data in this period.</p>
      ) : (
        <div ref={ref} role="img" aria-label={p.title} />
      )}
      <details>
        <summary>Numbers for “{p.title}”</summary>
        <table>
          <thead>
            <tr>
              {p.table.head.map((h) => (
                <th key={h} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {p.table.rows.map((r, i) => (
              <tr key={i}>
                {r.map((c, j) => (
                  <td key={j}>{c}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

export function Section(props: { title: string; children: ComponentChildren; actions?: JSX.Element }) {
  const id = `s-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id}>
      <div class="section-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

export function Copyable({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <div class="copyable">
      <code title={label}>{text}</code>
      <button
        type="button"
        class="secondary small"
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(() => setDone(true));
        }}
      >
        {done ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}
