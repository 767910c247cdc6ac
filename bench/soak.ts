/**
 * `npm run soak [-- --minutes N]` (default 10): the reliability load of bench/reliability.bench.ts,
 * faults on, in rounds of fresh agents for N minutes against one dev runtime, sampling this process's
 * resident memory and active handles (process.getActiveResourcesInfo()) after each round. Writes
 * soak_* rows into bench/results/reliability.json, keeping the bench's rows.
 * Bound: RSS growth from the first round's sample to the last under 150 MB, active handles back to
 * the first round's count ± 10 after the drain.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';
import { LOAD_FAULTS, keepRows } from './reliability.bench.js';
import { chainTotals, loadPhase, sleep, startReliabilityEnv } from './reliability-runtime.js';

const arg = process.argv.indexOf('--minutes');
const minutes = arg > 0 ? Number(process.argv[arg + 1]) : Number(process.env.ARX_SOAK_MINUTES ?? 10);
const RSS_BOUND_MB = 150;
const HANDLE_BOUND = 10;
const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const mb = (b: number) => Number((b / 2 ** 20).toFixed(1));

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
    global.gc?.();
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
  const last = samples.at(-1)!;
  const growth = Number((last.rss_mb - first.rss_mb).toFixed(1));
  const peak = Math.max(...samples.map((s) => s.rss_mb));
  const params = {
    node: process.version,
    minutes,
    rounds: samples.length,
    load: '4 concurrent callers over 4 fresh agents per round (≤30 s), ~20 % held and approved, faults on',
    faults: LOAD_FAULTS.map((f) => `${f.service}:${f.kind}:${f.rate}`).join(','),
    measured: 'this process: the dev runtime, its handlers and the load driver (moto is a separate process)',
  };
  const rows: BenchResult[] = [
    {
      name: 'soak_rss_growth',
      unit: 'MB',
      value: growth,
      params: {
        ...params,
        bound: RSS_BOUND_MB,
        within_bound: growth < RSS_BOUND_MB,
        first_rss_mb: first.rss_mb,
        last_rss_mb: last.rss_mb,
        peak_rss_mb: peak,
        samples,
      },
    },
    {
      name: 'soak_active_handles_growth',
      unit: 'handles',
      value: last.handles - first.handles,
      params: {
        ...params,
        bound: HANDLE_BOUND,
        first: first.handles,
        last: last.handles,
        max: Math.max(...samples.map((s) => s.handles)),
      },
    },
    { name: 'soak_actions_executed', unit: 'actions', value: executed, params: { ...params, requests, refused } },
    { name: 'soak_lost', unit: 'actions', value: lost, params: { ...params, target: 0 } },
    { name: 'soak_duplicated', unit: 'events', value: duplicated, params: { ...params, target: 0 } },
    {
      name: 'soak_chain_unsealed_events',
      unit: 'events',
      value: chain.events - chain.tree_size,
      params: { ...params, ...chain, target: 0 },
    },
  ];
  const file = fileURLToPath(new URL('./results/reliability.json', import.meta.url));
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  const kept = keepRows('reliability_');
  writeFileSync(file, `${JSON.stringify([...kept, ...rows], null, 2)}\n`);
  for (const r of rows) process.stdout.write(`  ${r.name}: ${r.value} ${r.unit}\n`);
} finally {
  await env.stop();
}
process.exit(0);
