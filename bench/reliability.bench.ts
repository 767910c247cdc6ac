/**
 * Reliability under faults and load (issue 18): the same load through the dev runtime twice, once
 * with AWS faults off (the baseline) and once with faults on at the rates below (per SDK attempt;
 * the SDK retries, 3 attempts). Loopback only, bounded in time and count. See bench/reliability-runtime.ts.
 * The soak (npm run soak, bench/soak.ts) merges its figures into the same results file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';
import type { FaultRule } from '../local/faults.js';
import { chainTotals, loadPhase, startReliabilityEnv, type PhaseResult } from './reliability-runtime.js';

const sumOf = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

export const LOAD_FAULTS: FaultRule[] = [
  { service: 'dynamodb', kind: 'throttle', rate: 0.05 },
  { service: 'kms', kind: '5xx', rate: 0.05 },
  { service: 's3', kind: '5xx', rate: 0.05 },
  { service: 'eventbridge', kind: '5xx', rate: 0.1 },
  { service: 'sqs', kind: 'throttle', rate: 0.05 },
  { service: 'secretsmanager', kind: 'timeout', rate: 0.05, delayMs: 100 },
  { service: 'sts', kind: '5xx', rate: 0.05 },
  { service: 'sfn', kind: 'throttle', rate: 0.05 },
  { service: 'dynamodb', kind: 'latency', rate: 0.05, delayMs: 50 },
];

const RESULTS = fileURLToPath(new URL('./results/reliability.json', import.meta.url));

/** The rows in bench/results/reliability.json now (none when the file is absent or unreadable). */
function fileRows(): BenchResult[] {
  try {
    return JSON.parse(readFileSync(RESULTS, 'utf8')) as BenchResult[];
  } catch {
    return [];
  }
}

/** Soak rows already in the file survive a bench run (and the soak keeps the bench's rows). */
export function keepRows(prefix: string): BenchResult[] {
  return fileRows().filter((r) => r.name.startsWith(prefix));
}

/**
 * Merges `rows` into the results file by name: a row of the same name is replaced, every other row
 * (the load's, when the soak writes) is kept; `retired` names (rows an older version wrote) are dropped.
 */
export function mergeRows(rows: BenchResult[], retired: readonly string[] = []): void {
  const names = new Set([...rows.map((r) => r.name), ...retired]);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify([...fileRows().filter((r) => !names.has(r.name)), ...rows], null, 2)}\n`);
}

/** The request mix per phase (shares of requests; the rest are autonomous actions), stated in the README. */
export const MIX = {
  heldShare: 0.2,
  otlpShare: 0.15,
  evaluateShare: 0.15,
  badShare: 0.1,
  deniedShare: 0.05,
  kill: true,
} as const;

export async function run(): Promise<BenchResult[]> {
  const seconds = Number(process.env.ARX_RELIABILITY_SECONDS ?? 30);
  const workers = Number(process.env.ARX_BENCH_WORKERS ?? 6);
  const agents = Number(process.env.ARX_RELIABILITY_AGENTS ?? 12);
  const env = await startReliabilityEnv();
  let base: PhaseResult;
  let faulty: PhaseResult;
  let chain: Awaited<ReturnType<typeof chainTotals>>;
  try {
    base = await loadPhase(env, { label: 'baseline', seconds, workers, agents, faults: [], ...MIX });
    faulty = await loadPhase(env, { label: 'faults', seconds, workers, agents, faults: LOAD_FAULTS, ...MIX });
    chain = await chainTotals(env);
  } finally {
    await env.stop();
  }
  const params = {
    node: process.version,
    machine: '2 shared cores',
    emulator: 'moto_server (one process), loopback only',
    load: `${workers} concurrent callers over ${agents} agents for ${seconds} s per phase`,
    mix: '20 % held actions (approved), 15 % OTLP/JSON exports (3 spans each), 15 % policy evaluations, 10 % malformed requests (a dedicated agent), 5 % policy-denied actions (okta:groups:list), 35 % autonomous actions; one agent terminated (kill switch) half way through each phase',
    fault_rates: 'per SDK attempt (the SDK retries retryable errors: 3 attempts)',
    faults: LOAD_FAULTS.map((f) => `${f.service}:${f.kind}:${f.rate}${f.delayMs ? `:${f.delayMs}ms` : ''}`).join(','),
  };
  const row = (name: string, unit: string, pick: (p: PhaseResult) => number, extra = {}): BenchResult => ({
    name,
    unit,
    value: pick(faulty),
    baseline: pick(base),
    params: { ...params, ...extra },
  });
  return [
    row('reliability_actions_executed', 'actions', (p) => p.executed, { faulty, baseline_phase: base }),
    row('reliability_audit_events_recorded', 'events', (p) => p.audit_events_recorded),
    row('reliability_leaves_sealed', 'leaves', (p) => p.leaves_sealed, {
      method: 'inclusion proof of each operation.executed event',
    }),
    row('reliability_lost', 'actions', (p) => p.lost, { target: 0, definition: 'executed − (recorded and sealed)' }),
    row('reliability_duplicated', 'events', (p) => p.duplicated, { target: 0 }),
    row('reliability_refused', 'requests', (p) => p.refused_total, {
      reasons_faulty: faulty.refused,
      reasons_baseline: base.refused,
    }),
    row('reliability_unaccounted', 'requests', (p) => p.unaccounted, {
      target: 0,
      definition:
        'action requests − actions created − refused without a record (+ 2xx without an id, + created actions the store cannot show)',
      faulty: {
        action_requests: faulty.action_requests,
        actions_created: faulty.actions_created,
        store_status: faulty.store_status,
        refused_with_record: faulty.refused_with_record,
        refused_without_record: faulty.refused_without_record,
        status_mismatch: faulty.status_mismatch,
        events_for_unexecuted: faulty.events_for_unexecuted,
        killed_agent: faulty.killed_agent,
      },
    }),
    row('reliability_refused_with_record', 'actions', (p) => sumOf(p.refused_with_record), {
      reasons_faulty: faulty.refused_with_record,
      reasons_baseline: base.refused_with_record,
    }),
    row('reliability_refused_without_record', 'requests', (p) => sumOf(p.refused_without_record), {
      reasons_faulty: faulty.refused_without_record,
      reasons_baseline: base.refused_without_record,
    }),
    row('reliability_status_mismatch', 'actions', (p) => p.status_mismatch + p.events_for_unexecuted, {
      target: 0,
      definition:
        'created actions whose store status differs from their answer, plus operation.executed events for actions not executed',
    }),
    row('reliability_otlp_spans_accepted', 'spans', (p) => p.otlp.spans_accepted, {
      faulty: faulty.otlp,
      baseline_otlp: base.otlp,
    }),
    row('reliability_otlp_spans_readable', 'spans', (p) => p.otlp.spans_readable, {
      method: 'GET /v1/traces/{id} of every trace posted, counting the posted span ids',
    }),
    row('reliability_otlp_spans_lost', 'spans', (p) => p.otlp.spans_lost + p.otlp.spans_duplicated, {
      target: 0,
      definition: 'accepted − readable, plus any span read back twice',
    }),
    row('reliability_evaluations', 'decisions', (p) => p.evaluations.total, {
      faulty: faulty.evaluations,
      baseline_evaluations: base.evaluations,
    }),
    row('reliability_evaluations_unexpected', 'decisions', (p) => sumOf(p.evaluations.unexpected), {
      target: 0,
      expected:
        'okta:users:read permit/none, okta:users:deactivate permit/hitl, okta:groups:list forbid; the killed agent forbid (or refused) once terminated',
    }),
    row('reliability_bad_inputs', 'requests', (p) => p.bad_inputs.total, {
      faulty: faulty.bad_inputs,
      baseline_bad_inputs: base.bad_inputs,
    }),
    row(
      'reliability_bad_inputs_with_effect',
      'requests',
      (p) => p.bad_inputs.not_4xx + p.bad_inputs.action_ids_returned + p.bad_inputs.audit_events_of_bad_agent,
      { target: 0, definition: 'answers not 4xx + action ids returned + audit events of the bad-input agent' },
    ),
    row('reliability_executed_per_s', 'actions/s', (p) => p.actions_per_s),
    row('reliability_faults_injected', 'attempts', (p) => p.faults_injected, {
      fault_attempts: faulty.fault_attempts,
      injected: faulty.injected_by_kind,
    }),
    {
      name: 'reliability_chain_unsealed_events',
      unit: 'events',
      value: chain.events - chain.tree_size,
      params: { ...params, target: 0, ...chain, note: 'whole tenant chain after both phases drained' },
    },
    ...keepRows('soak_'),
  ];
}
