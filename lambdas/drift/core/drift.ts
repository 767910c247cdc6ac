/**
 * Behavioural drift of one agent: a compact baseline updated one observation at a time, and a
 * score that says how far the agent's recent behaviour is from it. The method (docs/drift.md):
 *
 * - operation mix: two exponentially decayed histograms of the action names the agent asks for,
 *   a long one (α = {@link ALPHA_LONG}, the baseline) and a short one (α = {@link ALPHA_SHORT},
 *   about the last 30 decisions); the distance is their Jensen–Shannon divergence (base 2, 0…1).
 * - hourly rate: EWMA mean and variance of the decisions per closed UTC hour (hours without any are
 *   zeros); the open hour's count is compared as z = (count − mean) / sd, sd floored at √mean (Poisson).
 * - denial rate: a long and a short EWMA of "this outcome was a denial" (policy forbid or a human's
 *   deny); z = (short − long) / the short EWMA's standard deviation under the long rate.
 * - cost per day: EWMA mean and variance of the agent's spend per closed UTC day; today's running
 *   spend is compared as z = (today − mean) / sd, sd floored at a quarter of the mean.
 * - new connectors (and new operations, reported, weaker) after the warm-up.
 *
 * Each component becomes a ratio r (its value over its alert threshold); the score is
 * min(1, max r / 2): 0.5 is the alert line, 1 twice past it. Nothing scores during the warm-up.
 * Pure: no I/O, no clock (times come with the observations).
 */

/** Long (baseline) and short (recent) decay per decision or outcome. */
export const ALPHA_LONG = 0.01;
export const ALPHA_SHORT = 0.07;
/** The denial baseline moves slower (about the last 500 outcomes), so a sustained rise stays visible. */
export const ALPHA_DENIAL_LONG = 0.002;
/** The recent denial rate averages about the last 65 outcomes (denials are rare: a shorter window is mostly noise). */
export const ALPHA_DENIAL_SHORT = 0.03;
/** Decay per closed hour (rate) and per closed day (cost). */
export const ALPHA_HOUR = 0.02;
export const ALPHA_DAY = 0.15;
/** Decisions and closed hours before the mix, rate and denial components score; closed days before cost does. */
export const WARMUP_DECISIONS = 200;
export const WARMUP_HOURS = 24;
export const WARMUP_DAYS = 3;
/** Alert thresholds of the components (a component at its threshold scores 0.5). */
export const THRESHOLDS = { mix_jsd: 0.15, rate_z: 5, denial_z: 6, cost_z: 4 } as const;
/** The score at or above which an agent is drifting, and below which a drifting agent is clear again. */
export const ALERT_SCORE = 0.5;
export const CLEAR_SCORE = 0.4;
/** A new connector counts for this long after it first appears. */
export const NEW_NAME_WINDOW_MS = 24 * 3600_000;
/** Bounds that keep the state compact. */
const MAX_OPS = 64;
const MAX_NAMES = 256;
const MAX_IDS = 64;
const MAX_GAP_HOURS = 24 * 7;
const MAX_GAP_DAYS = 31;
const MIN_DENIAL_RATE = 0.02;

/** One thing an agent did, as the bus told it. */
export interface Observation {
  /** Unique per source event (at-least-once delivery: a repeat changes nothing). */
  readonly event_id: string;
  /** ISO time of the event. */
  readonly at: string;
  /** The action decided (`connector:resource:verb`), when this observation is a decision. */
  readonly action?: string;
  /** Whether the outcome was a denial; absent when this observation has no outcome (a hold, a cost sample). */
  readonly denied?: boolean;
  /** The agent's spend so far in the observation's UTC day (model + tools), when known. */
  readonly day_spend_usd?: number;
}

interface Ewma {
  mean: number;
  var: number;
  n: number;
}

/** The per-agent baseline (what the store keeps; a few KB at most). */
export interface DriftState {
  v: 1;
  decisions: number;
  outcomes: number;
  first_at?: string;
  last_at?: string;
  ids: string[];
  mix_long: Record<string, number>;
  mix_short: Record<string, number>;
  hour?: { start: string; count: number };
  rate: Ewma;
  denial: { long: number; short: number };
  day?: { date: string; usd: number };
  cost: Ewma;
  connectors: string[];
  operations: string[];
  new_names: { kind: 'connector' | 'operation'; name: string; at: string }[];
  alert: boolean;
  score: number;
  alert_since?: string;
}

export interface DriftComponents {
  readonly mix: { readonly jsd: number; readonly threshold: number; readonly shifted: readonly ShiftedOp[] };
  readonly rate: {
    readonly z: number;
    readonly threshold: number;
    readonly hour_count: number;
    readonly mean_per_hour: number;
  };
  readonly denial: {
    readonly z: number;
    readonly threshold: number;
    readonly recent_rate: number;
    readonly baseline_rate: number;
  };
  readonly cost: {
    readonly z: number;
    readonly threshold: number;
    readonly today_usd: number;
    readonly mean_day_usd: number;
  };
  readonly new_connectors: readonly string[];
  readonly new_operations: readonly string[];
}
export interface ShiftedOp {
  readonly action: string;
  readonly recent: number;
  readonly baseline: number;
}

/** The drift of an agent now: score, whether it is drifting, and why. */
export interface DriftReport {
  readonly score: number;
  readonly alert: boolean;
  readonly warming_up: boolean;
  /** The component with the largest ratio, when any scores. */
  readonly driver: 'mix' | 'rate' | 'denial' | 'cost' | 'new_connector' | 'new_operation' | null;
  readonly components: DriftComponents;
  readonly baseline: {
    readonly decisions: number;
    readonly outcomes: number;
    readonly hours: number;
    readonly days: number;
    readonly first_at: string | null;
    readonly last_at: string | null;
  };
}

/** The result of one update: the new state, its report, and a crossing of the alert line (if any). */
export interface DriftUpdate {
  readonly state: DriftState;
  readonly report: DriftReport;
  readonly duplicate: boolean;
  readonly crossed: 'alert' | 'cleared' | null;
}

export function emptyState(): DriftState {
  return {
    v: 1,
    decisions: 0,
    outcomes: 0,
    ids: [],
    mix_long: {},
    mix_short: {},
    rate: { mean: 0, var: 0, n: 0 },
    denial: { long: 0, short: 0 },
    cost: { mean: 0, var: 0, n: 0 },
    connectors: [],
    operations: [],
    new_names: [],
    alert: false,
    score: 0,
  };
}

const HOUR_MS = 3600_000;
const hourStart = (ms: number): string => new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** EWMA of mean and variance (West's incremental form); the first sample sets the mean. */
function ewma(e: Ewma, x: number, alpha: number): Ewma {
  if (e.n === 0) return { mean: x, var: 0, n: 1 };
  const d = x - e.mean;
  const mean = e.mean + alpha * d;
  return { mean, var: (1 - alpha) * (e.var + alpha * d * d), n: e.n + 1 };
}

/** Decays every bin by (1 − α), adds α to `key`, keeps the `MAX_OPS` heaviest bins. */
function decayInto(h: Record<string, number>, key: string, alpha: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(h)) {
    const x = v * (1 - alpha);
    if (x > 1e-6) out[k] = x;
  }
  out[key] = (out[key] ?? 0) + alpha;
  const keys = Object.keys(out);
  if (keys.length <= MAX_OPS) return out;
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_OPS),
  );
}

/** Jensen–Shannon divergence (base 2, in [0, 1]) of two unnormalised histograms. */
export function jensenShannon(p: Readonly<Record<string, number>>, q: Readonly<Record<string, number>>): number {
  const sp = Object.values(p).reduce((a, b) => a + b, 0);
  const sq = Object.values(q).reduce((a, b) => a + b, 0);
  if (sp <= 0 || sq <= 0) return 0;
  let js = 0;
  for (const k of new Set([...Object.keys(p), ...Object.keys(q)])) {
    const a = (p[k] ?? 0) / sp;
    const b = (q[k] ?? 0) / sq;
    const m = (a + b) / 2;
    if (a > 0) js += 0.5 * a * Math.log2(a / m);
    if (b > 0) js += 0.5 * b * Math.log2(b / m);
  }
  return Math.max(0, Math.min(1, js));
}

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;
const bounded = (list: string[], name: string): string[] => [...list, name].slice(-MAX_NAMES);

/**
 * Folds one observation into the state. A repeated event id changes nothing; an observation older
 * than the open hour (or day) counts into the open one (late delivery is not re-bucketed).
 */
export function observe(prev: DriftState, o: Observation): DriftUpdate {
  if (prev.ids.includes(o.event_id))
    return { state: prev, report: report(prev, Date.parse(prev.last_at ?? o.at)), duplicate: true, crossed: null };
  const atMs = Date.parse(o.at);
  if (!Number.isFinite(atMs)) throw new RangeError(`observation ${o.event_id} has no valid time`);
  // a copy of what this update may change in place (the rest is replaced, never mutated)
  const s: DriftState = {
    ...prev,
    ...(prev.hour ? { hour: { ...prev.hour } } : {}),
    ...(prev.day ? { day: { ...prev.day } } : {}),
  };
  s.ids = [...s.ids, o.event_id].slice(-MAX_IDS);
  const nowMs = Math.max(atMs, s.last_at ? Date.parse(s.last_at) : atMs);
  s.first_at ??= o.at;
  s.last_at = new Date(nowMs).toISOString();
  const warm = isWarm(s);

  // hour buckets: close every hour between the open one and now (empty hours count as zeros)
  const h = hourStart(nowMs);
  if (!s.hour) s.hour = { start: h, count: 0 };
  else if (s.hour.start !== h) {
    const gap = Math.min(MAX_GAP_HOURS, Math.round((Date.parse(h) - Date.parse(s.hour.start)) / HOUR_MS));
    s.rate = ewma(s.rate, s.hour.count, ALPHA_HOUR);
    for (let i = 1; i < gap; i++) s.rate = ewma(s.rate, 0, ALPHA_HOUR);
    s.hour = { start: h, count: 0 };
  }
  // day buckets for cost (the spend is a running total per UTC day: take the largest seen)
  const d = dayOf(nowMs);
  if (!s.day) s.day = { date: d, usd: 0 };
  else if (s.day.date !== d) {
    const gap = Math.min(MAX_GAP_DAYS, Math.round((Date.parse(d) - Date.parse(s.day.date)) / 86_400_000));
    s.cost = ewma(s.cost, s.day.usd, ALPHA_DAY);
    for (let i = 1; i < gap; i++) s.cost = ewma(s.cost, 0, ALPHA_DAY);
    s.day = { date: d, usd: 0 };
  }
  if (o.day_spend_usd !== undefined && Number.isFinite(o.day_spend_usd) && dayOf(atMs) === s.day.date)
    s.day.usd = Math.max(s.day.usd, o.day_spend_usd);

  if (o.action) {
    s.decisions++;
    s.hour.count++;
    s.mix_long = decayInto(s.mix_long, o.action, ALPHA_LONG);
    s.mix_short = decayInto(s.mix_short, o.action, ALPHA_SHORT);
    const connector = o.action.split(':')[0] ?? o.action;
    if (!s.connectors.includes(connector)) {
      s.connectors = bounded(s.connectors, connector);
      if (warm) s.new_names = [...s.new_names, { kind: 'connector' as const, name: connector, at: o.at }].slice(-10);
    }
    if (!s.operations.includes(o.action)) {
      s.operations = bounded(s.operations, o.action);
      if (warm) s.new_names = [...s.new_names, { kind: 'operation' as const, name: o.action, at: o.at }].slice(-10);
    }
  }
  if (o.denied !== undefined) {
    const x = o.denied ? 1 : 0;
    s.outcomes++;
    // a plain running mean until the EWMA's window is full (no bias towards the first outcome)
    const k = (alpha: number) => Math.max(alpha, 1 / s.outcomes);
    s.denial = {
      long: s.denial.long + k(ALPHA_DENIAL_LONG) * (x - s.denial.long),
      short: s.denial.short + k(ALPHA_DENIAL_SHORT) * (x - s.denial.short),
    };
  }
  s.new_names = s.new_names.filter((n) => nowMs - Date.parse(n.at) < NEW_NAME_WINDOW_MS);

  const r = report(s, nowMs);
  let crossed: DriftUpdate['crossed'] = null;
  if (!s.alert && r.score >= ALERT_SCORE) {
    s.alert = true;
    s.alert_since = s.last_at;
    crossed = 'alert';
  } else if (s.alert && r.score < CLEAR_SCORE) {
    s.alert = false;
    delete s.alert_since;
    crossed = 'cleared';
  }
  s.score = r.score;
  return { state: s, report: { ...r, alert: s.alert }, duplicate: false, crossed };
}

function isWarm(s: DriftState): boolean {
  return s.decisions >= WARMUP_DECISIONS && s.rate.n >= WARMUP_HOURS;
}

/** The drift of `s` at `nowMs` (the open hour and day as they stand). */
export function report(s: DriftState, nowMs: number): DriftReport {
  const warm = isWarm(s);
  const jsd = jensenShannon(s.mix_short, s.mix_long);
  const hourCount = s.hour && s.hour.start === hourStart(nowMs) ? s.hour.count : 0;
  const rateSd = Math.max(Math.sqrt(s.rate.var), Math.sqrt(s.rate.mean), 1);
  const rateZ = s.rate.n ? (hourCount - s.rate.mean) / rateSd : 0;
  const pl = Math.max(s.denial.long, MIN_DENIAL_RATE);
  const denialSd = Math.sqrt((pl * (1 - pl) * ALPHA_DENIAL_SHORT) / (2 - ALPHA_DENIAL_SHORT));
  const denialZ = s.outcomes ? (s.denial.short - s.denial.long) / denialSd : 0;
  const today = s.day && s.day.date === dayOf(nowMs) ? s.day.usd : 0;
  const costSd = Math.max(Math.sqrt(s.cost.var), 0.25 * s.cost.mean, 0.01);
  const costZ = s.cost.n ? (today - s.cost.mean) / costSd : 0;
  const recent = s.new_names.filter((n) => nowMs - Date.parse(n.at) < NEW_NAME_WINDOW_MS);
  const newConnectors = recent.filter((n) => n.kind === 'connector').map((n) => n.name);
  const newOperations = recent.filter((n) => n.kind === 'operation').map((n) => n.name);

  const ratios: [NonNullable<DriftReport['driver']>, number][] = warm
    ? [
        ['mix', jsd / THRESHOLDS.mix_jsd],
        ['rate', rateZ / THRESHOLDS.rate_z],
        ['denial', denialZ / THRESHOLDS.denial_z],
        ['cost', s.cost.n >= WARMUP_DAYS ? costZ / THRESHOLDS.cost_z : 0],
        ['new_connector', newConnectors.length ? 1 : 0],
        ['new_operation', newOperations.length ? 0.6 : 0],
      ]
    : [];
  const top = ratios.reduce<[DriftReport['driver'], number]>((a, b) => (b[1] > a[1] ? b : a), [null, 0]);
  const score = round(Math.min(1, Math.max(0, top[1]) / 2));
  const sl = Object.values(s.mix_short).reduce((a, b) => a + b, 0) || 1;
  const ll = Object.values(s.mix_long).reduce((a, b) => a + b, 0) || 1;
  const shifted = [...new Set([...Object.keys(s.mix_short), ...Object.keys(s.mix_long)])]
    .map((k) => ({ action: k, recent: round((s.mix_short[k] ?? 0) / sl), baseline: round((s.mix_long[k] ?? 0) / ll) }))
    .sort((a, b) => Math.abs(b.recent - b.baseline) - Math.abs(a.recent - a.baseline))
    .slice(0, 5);
  return {
    score,
    alert: s.alert,
    warming_up: !warm,
    driver: top[1] > 0 ? top[0] : null,
    components: {
      mix: { jsd: round(jsd), threshold: THRESHOLDS.mix_jsd, shifted },
      rate: {
        z: round(rateZ, 2),
        threshold: THRESHOLDS.rate_z,
        hour_count: hourCount,
        mean_per_hour: round(s.rate.mean, 2),
      },
      denial: {
        z: round(denialZ, 2),
        threshold: THRESHOLDS.denial_z,
        recent_rate: round(s.denial.short),
        baseline_rate: round(s.denial.long),
      },
      cost: {
        z: round(costZ, 2),
        threshold: THRESHOLDS.cost_z,
        today_usd: round(today),
        mean_day_usd: round(s.cost.mean),
      },
      new_connectors: newConnectors,
      new_operations: newOperations,
    },
    baseline: {
      decisions: s.decisions,
      outcomes: s.outcomes,
      hours: s.rate.n,
      days: s.cost.n,
      first_at: s.first_at ?? null,
      last_at: s.last_at ?? null,
    },
  };
}
