/**
 * Governed-action benchmarks (one core, sequential, in-memory ports, loopback Okta):
 *  - governed autonomous execute (validation, revocation check, PDP, audit-before-execute,
 *    conditional state transitions, Okta connector with SSWS over loopback HTTP, events) beside
 *    the bare Okta connector call to the same server (the cost of governance itself);
 *  - the approval path (hold + approve + execute, without human think time) beside the same baseline;
 *  - 50 racing approvals of one request: wall time until all 50 answered (1 executes, 49 get 409).
 * The PDP is an in-memory table here: bench/pdp.bench.ts measures the Cedar PDP itself.
 *
 * Then the same autonomous action through the dev runtime against moto (bench/actions-runtime.ts):
 * AWS calls per action end to end, per service/operation, and the sustained rate with p99.
 */
import type { BenchResult } from './run.js';
import { oktaConnector } from '../lambdas/actions/connectors/okta.js';
import { connectorSecretName } from '../lambdas/actions/core/model.js';
import { agent, harness, manager, trace } from '../test/unit/actions/fakes.js';
import { fakeOkta, recordingServer } from '../test/integration/actions/support.js';
import { systemClock } from '../lambdas/shared/clock.js';
import { runtimeBench } from './actions-runtime.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(3));
};

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const fake = fakeOkta('bench-token');
  const srv = await recordingServer((c) => fake.handler(c));
  try {
    const h = harness({ connectors: new Map([['okta', oktaConnector]]), clock: systemClock });
    await h.configs.putConfig('t1', 'okta', { base_url: srv.url });
    h.configs.secrets.set(connectorSecretName('t1', 'okta'), { api_token: 'bench-token' });
    const ctx = {
      tenantId: 't1',
      agentId: 'agt_1',
      actionId: 'act_bench',
      correlationId: 'c',
      traceparent: trace.traceparent,
      config: { base_url: srv.url },
      secret: async () => ({ api_token: 'bench-token' }),
      credentials: h.deps.credentials,
      fetch,
    };
    const direct = () => oktaConnector.execute(ctx, 'users:read', { user_id: '00u1' });
    const governed = () =>
      h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } }, trace);
    let k = 0;
    const approved = async () => {
      const out = await h.svc.submit(
        agent,
        { connector: 'okta', operation: 'users:deactivate', params: { user_id: `00u${(k++ % 3) + 1}` } },
        trace,
      );
      if (out.kind !== 'pending') throw new Error('expected a hold');
      await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'bench');
    };
    for (let i = 0; i < 200; i++) {
      await direct();
      await governed();
    }
    const N = 1000;
    const base: number[] = [];
    const gov: number[] = [];
    for (let r = 0; r < 10; r++) {
      base.push(...(await timed(N / 10, direct)));
      gov.push(...(await timed(N / 10, governed)));
    }
    const appr = await timed(300, approved);
    const race: number[] = [];
    for (let r = 0; r < 20; r++) {
      const out = await h.svc.submit(
        agent,
        { connector: 'okta', operation: 'users:deactivate', params: { user_id: '00u2' } },
        trace,
      );
      if (out.kind !== 'pending') throw new Error('expected a hold');
      const t = performance.now();
      await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          h.svc.decide('t1', out.approval.approval_id, { ...manager, id: `m${i}` }, 'approve', 'race'),
        ),
      );
      race.push(performance.now() - t);
    }
    const params = {
      cores: 1,
      sequential: true,
      node: process.version,
      ports: 'in-memory store/audit/PDP table; Okta connector over loopback HTTP',
      samples: N,
    };
    const workers = Number(process.env.ARX_BENCH_WORKERS ?? 4);
    const rtb = await runtimeBench({ actions: 20, seconds: 15, workers });
    const rtParams = {
      node: process.version,
      emulator: 'moto_server (one process)',
      path: 'HTTP → authorizer → actions-api → PDP, store, audit, events → consumers',
      machine: '2 shared cores',
    };
    return [
      {
        name: 'dev_runtime_aws_calls_per_autonomous_action',
        unit: 'calls',
        value: rtb.perActionTotal,
        params: {
          ...rtParams,
          per_operation: rtb.perAction,
          per_table_and_key: rtb.perActionDetail,
          actions: 20,
          method: 'middleware on every SDK client; idle window of equal length subtracted',
          before_after:
            "issue 19 baseline 22.8 (before the outbox); 33.35 at d4bd228; 32.25 at 3ad2787; 49.75 at 9bde1aa (the drift and streaming consumers, YAML-budget reservations). Cut since 9bde1aa: one emulated queue per bus with the rules matched in process (SQS -7.4: one receive and about one delete per event instead of one per rule), budget list and prices through a 5 s window and drift sampling spend at executions only with one counter read (Query BUDGET 4 -> 0.1, GetItem PRICES 1 -> 0.1, GetItem SPEND 6 -> 3), no subscription read for a tenant without subscriptions within 5 s (Query SUB 2.15 -> 0.1). The local runtime's SQS calls are its emulation of EventBridge-to-Lambda delivery: a deployed stack makes none of them",
        },
      },
      {
        name: 'dev_runtime_sustained_governed_actions_per_s',
        unit: 'actions/s',
        value: rtb.sustained.actions_per_s,
        params: { ...rtParams, ...rtb.sustained },
      },
      {
        name: 'dev_runtime_governed_action_p99',
        unit: 'ms',
        value: rtb.sustained.p99_ms,
        params: { ...rtParams, ...rtb.sustained },
      },
      {
        name: 'governed_execute_autonomous_p50',
        unit: 'ms',
        value: pct(gov, 50),
        baseline: pct(base, 50),
        params: { ...params, baseline: 'bare Okta connector call (same server, same request)' },
      },
      {
        name: 'governed_execute_autonomous_p95',
        unit: 'ms',
        value: pct(gov, 95),
        baseline: pct(base, 95),
        params: { ...params, baseline: 'bare Okta connector call (same server, same request)' },
      },
      {
        name: 'approval_path_hold_approve_execute_p50',
        unit: 'ms',
        value: pct(appr, 50),
        baseline: pct(base, 50),
        params: { ...params, samples: appr.length, baseline: 'bare Okta connector call', note: 'no human think time' },
      },
      {
        name: 'approval_race_50_deciders_p50',
        unit: 'ms',
        value: pct(race, 50),
        baseline: pct(appr, 50),
        params: {
          ...params,
          samples: race.length,
          deciders: 50,
          executions_per_race: 1,
          baseline: 'one uncontended hold+approve+execute',
        },
      },
    ];
  } finally {
    await srv.close();
  }
}
