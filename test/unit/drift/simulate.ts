import {
  emptyState,
  observe,
  type DriftState,
  type DriftUpdate,
  type Observation,
} from '../../../lambdas/drift/core/drift.js';

/** Deterministic PRNG (mulberry32, the fault layer's), so a synthetic history is the same on every run. */
export { mulberry32 as rng } from '../../../local/faults.js';
export function poisson(r: () => number, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > l);
  return k - 1;
}
export function pick<T>(r: () => number, weights: readonly (readonly [T, number])[]): T {
  let x = r() * weights.reduce((a, [, w]) => a + w, 0);
  for (const [v, w] of weights) {
    x -= w;
    if (x <= 0) return v;
  }
  return weights[weights.length - 1]![0];
}

export const MIX = [
  ['okta:users:read', 0.5],
  ['okta:groups:read', 0.3],
  ['okta:users:update', 0.15],
  ['okta:users:suspend', 0.05],
] as const;

export interface Behaviour {
  /** Decisions per hour (Poisson mean) for an hour of the day. */
  readonly rate: (hourOfDay: number) => number;
  readonly mix: readonly (readonly [string, number])[];
  readonly denialRate: number;
  /** Spend per decision, USD. */
  readonly costPerDecision: () => number;
}
export const stationary = (r: () => number): Behaviour => ({
  rate: (h) => (h >= 8 && h < 18 ? 12 : 6),
  mix: MIX,
  denialRate: 0.05,
  costPerDecision: () => 0.04 + 0.02 * r(),
});

/** Replays `hours` of `b` from `start` into `s`, calling `onUpdate` after every observation. */
export function simulate(
  s0: DriftState,
  r: () => number,
  b: Behaviour,
  startMs: number,
  hours: number,
  /** Returning `true` stops the replay. */
  onUpdate: (u: DriftUpdate, o: Observation) => unknown,
  counter = { n: 0, spend: new Map<string, number>() },
): { state: DriftState; stopped: boolean } {
  let s = s0;
  for (let h = 0; h < hours; h++) {
    const hourMs = startMs + h * 3600_000;
    const n = poisson(r, b.rate(new Date(hourMs).getUTCHours()));
    const times = Array.from({ length: n }, () => hourMs + Math.floor(r() * 3600_000)).sort((a, c) => a - c);
    for (const t of times) {
      const at = new Date(t).toISOString();
      const day = at.slice(0, 10);
      const spend = (counter.spend.get(day) ?? 0) + b.costPerDecision();
      counter.spend.set(day, spend);
      const o: Observation = {
        event_id: `ev-${counter.n++}`,
        at,
        action: pick(r, b.mix),
        denied: r() < b.denialRate,
        day_spend_usd: spend,
      };
      const u = observe(s, o);
      s = u.state;
      if (onUpdate(u, o) === true) return { state: s, stopped: true };
    }
  }
  return { state: s, stopped: false };
}
export { emptyState };
