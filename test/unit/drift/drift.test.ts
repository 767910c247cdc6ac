import { describe, expect, it } from 'vitest';
import {
  ALERT_SCORE,
  emptyState,
  jensenShannon,
  observe,
  report,
  type DriftState,
} from '../../../lambdas/drift/core/drift.js';
import { rng, simulate, stationary, type Behaviour } from './simulate.js';

/**
 * The drift method on synthetic histories (docs/drift.md states the numbers asserted here): a
 * month of stationary behaviour raises no alert; after two weeks of it, a shifted operation mix, a
 * rate burst, a cost spike and a denial rise are each detected within a stated number of decisions.
 */
const START = Date.parse('2026-01-01T00:00:00Z');
const SEEDS = [1, 2, 3, 4, 5, 6];
/** Detection bounds in decisions after the change (docs/drift.md). */
const WITHIN = { mix: 80, rate: 35, cost: 40, denial: 70 } as const;

function warmed(seed: number): {
  state: DriftState;
  r: () => number;
  counter: { n: number; spend: Map<string, number> };
} {
  const r = rng(seed);
  const counter = { n: 0, spend: new Map<string, number>() };
  // two weeks and nine hours: the change starts at 09:00 UTC, in the busy part of the day
  const { state } = simulate(emptyState(), r, stationary(r), START, 24 * 14 + 9, () => undefined, counter);
  return { state, r, counter };
}

function detect(seed: number, change: (b: Behaviour, r: () => number) => Behaviour) {
  const { state, r, counter } = warmed(seed);
  expect(state.alert).toBe(false);
  let n = 0;
  let driver: string | null = null;
  let evidence: unknown;
  const out = simulate(
    state,
    r,
    change(stationary(r), r),
    START + (24 * 14 + 9) * 3600_000,
    48,
    (u) => {
      n++;
      if (u.crossed !== 'alert') return false;
      driver = u.report.driver;
      evidence = u.report.components;
      return true;
    },
    counter,
  );
  return { detected: out.stopped, n, driver, evidence };
}

describe('drift baseline and score', () => {
  it('raises no alert over a simulated month of stationary behaviour', () => {
    for (const seed of SEEDS) {
      const r = rng(seed);
      let alerts = 0;
      let decisions = 0;
      let maxScore = 0;
      simulate(emptyState(), r, stationary(r), START, 24 * 30, (u) => {
        decisions++;
        if (u.crossed === 'alert') alerts++;
        if (!u.report.warming_up) maxScore = Math.max(maxScore, u.report.score);
      });
      expect(decisions, `seed ${seed}`).toBeGreaterThan(5500);
      expect(alerts, `seed ${seed}`).toBe(0);
      expect(maxScore, `seed ${seed}`).toBeLessThan(ALERT_SCORE);
    }
  }, 120_000);

  it(`detects a shifted operation mix within ${WITHIN.mix} decisions`, () => {
    for (const seed of SEEDS) {
      const d = detect(seed, (b) => ({
        ...b,
        mix: [
          ['okta:users:suspend', 0.6],
          ['okta:users:read', 0.2],
          ['okta:groups:read', 0.1],
          ['okta:users:update', 0.1],
        ],
      }));
      expect(d.detected, `seed ${seed}`).toBe(true);
      expect(d.n, `seed ${seed}`).toBeLessThanOrEqual(WITHIN.mix);
      expect(d.driver).toBe('mix');
      expect((d.evidence as { mix: { shifted: { action: string }[] } }).mix.shifted[0]!.action).toBe(
        'okta:users:suspend',
      );
    }
  });

  it(`detects an hourly rate burst within ${WITHIN.rate} decisions`, () => {
    for (const seed of SEEDS) {
      const d = detect(seed, (b) => ({ ...b, rate: () => 80 }));
      expect(d.detected, `seed ${seed}`).toBe(true);
      expect(d.n, `seed ${seed}`).toBeLessThanOrEqual(WITHIN.rate);
      expect(d.driver).toBe('rate');
    }
  });

  it(`detects a cost spike within ${WITHIN.cost} decisions`, () => {
    for (const seed of SEEDS) {
      const d = detect(seed, (b, r) => ({ ...b, costPerDecision: () => 0.4 + 0.2 * r() }));
      expect(d.detected, `seed ${seed}`).toBe(true);
      expect(d.n, `seed ${seed}`).toBeLessThanOrEqual(WITHIN.cost);
      expect(d.driver).toBe('cost');
    }
  });

  it(`detects a denial rate rise (5% to 40%) within ${WITHIN.denial} decisions`, () => {
    for (const seed of SEEDS) {
      const d = detect(seed, (b) => ({ ...b, denialRate: 0.4 }));
      expect(d.detected, `seed ${seed}`).toBe(true);
      expect(d.n, `seed ${seed}`).toBeLessThanOrEqual(WITHIN.denial);
      expect(d.driver).toBe('denial');
    }
  });

  it('flags a connector the agent never used before', () => {
    const { state } = warmed(3);
    const u = observe(state, { event_id: 'new-1', at: state.last_at!, action: 'aws:s3:get_object', denied: false });
    expect(u.crossed).toBe('alert');
    expect(u.report.driver).toBe('new_connector');
    expect(u.report.components.new_connectors).toEqual(['aws']);
    // a day later it is part of the baseline and no longer counts
    const later = report(u.state, Date.parse(state.last_at!) + 25 * 3600_000);
    expect(later.components.new_connectors).toEqual([]);
  });

  it('changes nothing on a redelivered event', () => {
    const { state } = warmed(4);
    const o = { event_id: 'dup-1', at: state.last_at!, action: 'okta:users:read', denied: false };
    const once = observe(state, o);
    const twice = observe(once.state, o);
    expect(twice.duplicate).toBe(true);
    expect(twice.state).toBe(once.state);
    expect(twice.state.decisions).toBe(state.decisions + 1);
  });

  it('scores nothing during the warm-up, however odd the behaviour', () => {
    let s = emptyState();
    for (let i = 0; i < 150; i++) {
      const u = observe(s, {
        event_id: `w${i}`,
        at: new Date(START + i * 1000).toISOString(),
        action: i % 2 ? 'okta:users:deactivate' : `aws:op${i}`,
        denied: true,
      });
      s = u.state;
      expect(u.report.warming_up).toBe(true);
      expect(u.report.score).toBe(0);
      expect(u.crossed).toBeNull();
    }
  });

  it('clears the alert once behaviour returns to the baseline', () => {
    const { state, r, counter } = warmed(5);
    let alerted = false;
    let cleared = false;
    const burst = simulate(
      state,
      r,
      { ...stationary(r), rate: () => 80 },
      START + (24 * 14 + 9) * 3600_000,
      1,
      (u) => {
        if (u.crossed === 'alert') alerted = true;
      },
      counter,
    );
    simulate(
      burst.state,
      r,
      stationary(r),
      START + (24 * 14 + 10) * 3600_000,
      24,
      (u) => {
        if (u.crossed === 'cleared') cleared = true;
      },
      counter,
    );
    expect(alerted).toBe(true);
    expect(cleared).toBe(true);
  });

  it('measures the mix distance as Jensen–Shannon divergence in [0, 1]', () => {
    expect(jensenShannon({ a: 1, b: 1 }, { a: 2, b: 2 })).toBe(0);
    expect(jensenShannon({ a: 1 }, { b: 1 })).toBe(1);
    expect(jensenShannon({ a: 3, b: 1 }, { a: 1, b: 3 })).toBeCloseTo(0.1887, 3);
  });
});
