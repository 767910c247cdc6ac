/**
 * `npm run soak [-- --minutes N]` (default 10): the reliability load of bench/reliability.bench.ts,
 * faults on, in rounds of fresh agents for N minutes against one dev runtime, sampling this process's
 * resident memory and open handles (process.getActiveResourcesInfo()) after each round, after a full GC.
 * Bound, after a warm-up of WARMUP_S seconds (the first sample taken at or after it is the reference):
 * RSS of the last sample ≤ reference + RSS_BOUND_MB, open handles ≤ reference + HANDLE_BOUND.
 * Prints PASS/FAIL against it (exit code 1 on FAIL) and merges its soak_* rows into
 * bench/results/reliability.json by name, keeping the load's rows.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BenchResult } from './run.js';
import { LOAD_FAULTS, mergeRows } from './reliability.bench.js';
import { chainTotals, loadPhase, sleep, startReliabilityEnv } from './reliability-runtime.js';

const arg = process.argv.indexOf('--minutes');
const minutes = arg > 0 ? Number(process.argv[arg + 1]) : Number(process.env.ARX_SOAK_MINUTES ?? 10);
/** Stated bounds (README "Reliability: faults and load"). */
export const WARMUP_S = 120;
export const RSS_BOUND_MB = 64;
export const HANDLE_BOUND = 5;
/** Row names an older soak wrote; dropped from the results file when this one writes. */
const RETIRED = ['soak_rss_growth', 'soak_active_handles_growth', 'soak_actions_executed'];
const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const mb = (b: number) => Number((b / 2 ** 20).toFixed(1));
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const env = await startReliabilityEnv();
const samples: { t_s: number; rss_mb: number; heap_mb: number; handles: number; executed: number }[] = [];
let executed = 0;
let lost = 0;
let duplicated = 0;
let refused = 0;
let requests = 0;
const t0 = Date.now();
const until = t0 + minutes * 60_000;
try {
  let round = 0;
  while (Date.now() < until) {
    const seconds = Math.max(5, Math.min(30, (until - Date.now()) / 1000));
    const p = await loadPhase(env, {
      label: `soak${round++}`,
      seconds,
      workers: 4,
      agents: 4,
      faults: LOAD_FAULTS,
      verifyProofs: true,
    });
    executed += p.executed;
    lost += p.lost;
    duplicated += p.duplicated;
    refused += p.refused_total;
    requests += p.requests;
    gc();
    await sleep(500);
    const m = process.memoryUsage();
    samples.push({
      t_s: Math.round((Date.now() - t0) / 1000),
      rss_mb: mb(m.rss),
      heap_mb: mb(m.heapUsed),
      handles: handles(),
      executed: p.executed,
    });
    process.stdout.write(`soak ${JSON.stringify(samples.at(-1))} lost=${p.lost} dup=${p.duplicated}\n`);
  }
  const chain = await chainTotals(env);
  const first = samples[0]!;
  const ref = samples.find((x) => x.t_s >= WARMUP_S) ?? samples.at(-1)!;
  const last = samples.at(-1)!;
  const after = samples.filter((x) => x.t_s >= ref.t_s);
  const growth = Number((last.rss_mb - ref.rss_mb).toFixed(1));
  const handleGrowth = last.handles - ref.handles;
  const peak = Math.max(...after.map((x) => x.rss_mb));
  // Least-squares slope of RSS over the post-warm-up samples, MB per minute.
  const mx = after.reduce((a, x) => a + x.t_s, 0) / after.length;
  const my = after.reduce((a, x) => a + x.rss_mb, 0) / after.length;
  const den = after.reduce((a, x) => a + (x.t_s - mx) ** 2, 0);
  const slope = den ? (after.reduce((a, x) => a + (x.t_s - mx) * (x.rss_mb - my), 0) / den) * 60 : 0;
  const rssPass = growth <= RSS_BOUND_MB;
  const handlesPass = handleGrowth <= HANDLE_BOUND;
  const params = {
    node: process.version,
    minutes,
    elapsed_s: Math.round((Date.now() - t0) / 1000),
    rounds: samples.length,
    load: '4 concurrent callers over 4 fresh agents per round (≤30 s), ~20 % held and approved, faults on',
    faults: LOAD_FAULTS.map((f) => `${f.service}:${f.kind}:${f.rate}`).join(','),
    measured:
      'this process after a full GC: the dev runtime, its handlers and the load driver (moto is a separate process)',
    warmup_s: WARMUP_S,
    reference_sample_t_s: ref.t_s,
  };
  const rows: BenchResult[] = [
    {
      name: 'soak_rss_growth_mb',
      unit: 'MB',
      value: growth,
      params: {
        ...params,
        bound: `≤ ${RSS_BOUND_MB} MB from the first sample after warm-up to the last`,
        bound_mb: RSS_BOUND_MB,
        pass: rssPass,
        first_rss_mb: first.rss_mb,
        reference_rss_mb: ref.rss_mb,
        last_rss_mb: last.rss_mb,
        peak_rss_mb_after_warmup: peak,
        growth_from_first_sample_mb: Number((last.rss_mb - first.rss_mb).toFixed(1)),
        slope_mb_per_min_after_warmup: Number(slope.toFixed(2)),
        samples,
      },
    },
    {
      name: 'soak_open_handles_growth',
      unit: 'handles',
      value: handleGrowth,
      params: {
        ...params,
        bound: `≤ ${HANDLE_BOUND} from the first sample after warm-up to the last`,
        bound_handles: HANDLE_BOUND,
        pass: handlesPass,
        first: first.handles,
        reference: ref.handles,
        last: last.handles,
        max: Math.max(...samples.map((x) => x.handles)),
        kinds_last: process.getActiveResourcesInfo(),
      },
    },
    { name: 'soak_actions', unit: 'actions', value: executed, params: { ...params, requests, refused } },
    { name: 'soak_lost', unit: 'actions', value: lost, params: { ...params, target: 0 } },
    { name: 'soak_duplicated', unit: 'events', value: duplicated, params: { ...params, target: 0 } },
    {
      name: 'soak_chain_unsealed_events',
      unit: 'events',
      value: chain.events - chain.tree_size,
      params: { ...params, ...chain, target: 0 },
    },
  ];
  mergeRows(rows, RETIRED);
  for (const r of rows) process.stdout.write(`  ${r.name}: ${r.value} ${r.unit}\n`);
  const pass = rssPass && handlesPass && lost === 0 && duplicated === 0 && chain.events === chain.tree_size;
  process.stdout.write(
    `soak ${pass ? 'PASS' : 'FAIL'}: RSS +${growth} MB (bound ${RSS_BOUND_MB}), handles ${handleGrowth >= 0 ? '+' : ''}${handleGrowth} (bound ${HANDLE_BOUND}), lost ${lost}, duplicated ${duplicated}\n`,
  );
  process.exitCode = pass ? 0 : 1;
} finally {
  await env.stop();
}
process.exit(process.exitCode ?? 0);
