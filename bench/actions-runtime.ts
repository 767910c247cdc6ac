/**
 * The governed autonomous action through the dev runtime (HTTP → authorizer → actions-api →
 * PDP, action store, audit, events → consumers; moto for AWS): the AWS calls one action makes end
 * to end, counted per service/operation by a middleware on every SDK client (local/aws-calls.ts),
 * and the sustained rate the runtime holds with p99 latency. Background calls (pollers, schedules)
 * are measured over an idle window of the same length and subtracted.
 */
import { randomBytes } from 'node:crypto';
import { countAwsCalls, type CallCounts } from '../local/aws-calls.js';
import { emulatorEnv, freePort, startMoto } from '../local/moto.js';
import { fakeOkta, recordingServer } from '../test/integration/actions/support.js';

const POLICY = `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(1)) : NaN;
};

export interface RuntimeBench {
  perAction: CallCounts;
  /** The same calls by table and key kind (`DynamoDB.GetItem actions T#acme#A`). */
  perActionDetail: CallCounts;
  perActionTotal: number;
  sustained: {
    actions_per_s: number;
    p50_ms: number;
    p99_ms: number;
    ok: number;
    throttled: number;
    other: number;
    seconds: number;
    workers: number;
  };
}

export async function runtimeBench(
  o: { actions?: number; seconds?: number; workers?: number } = {},
): Promise<RuntimeBench> {
  const counter = countAwsCalls();
  const moto = await startMoto();
  for (const [k, v] of Object.entries(emulatorEnv(moto.endpoint))) process.env[k] = v;
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const fake = fakeOkta('bench-token');
  const okta = await recordingServer((c) => fake.handler(c));
  const { synthTemplate } = await import('../lib/synth.js');
  const { startLocalRuntime } = await import('../local/runtime.js');
  const rt = await startLocalRuntime({
    template: synthTemplate() as never,
    port: await freePort(),
    prefix: `b${randomBytes(3).toString('hex')}`,
  });
  try {
    const call = async (method: string, path: string, token: string, body?: unknown, form = false) => {
      const r = await fetch(rt.url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
        },
        ...(body !== undefined ? { body: form ? String(body) : JSON.stringify(body) } : {}),
      });
      return { status: r.status, json: (await r.json().catch(() => undefined)) as any };
    };
    const admin = await rt.idp.token({ sub: 'bench', tenant: 'acme', roles: ['admin'] });
    if (
      (
        await call('PUT', '/v1/connectors/okta', admin, {
          config: { base_url: okta.url },
          secret: { api_token: 'bench-token' },
        })
      ).status !== 200
    )
      throw new Error('connector config failed');
    const b = await call('POST', '/v1/policies/bundles', admin, { format: 'yaml', document: POLICY });
    if ((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, admin)).status !== 200)
      throw new Error('promote failed');
    const reg = await call('POST', '/v1/identity/agents', admin, {
      platform: 'langchain',
      platform_native_id: 'bench-agent',
      owner: { oidc_sub: 'owner' },
    });
    const tok = await fetch(`${rt.url}/v1/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: reg.json.bootstrap_token,
        subject_token_type: 'urn:arx:params:oauth:token-type:bootstrap',
        audience: 'arx',
      }).toString(),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const svid = tok.access_token;
    const act = () =>
      call('POST', '/v1/actions', svid, { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } });
    for (let i = 0; i < 10; i++) if ((await act()).status !== 200) throw new Error('warm-up action failed');

    // Calls per action: N sequential actions and their consumers, minus an idle window as long.
    const N = o.actions ?? 20;
    await sleep(3000);
    counter.reset();
    const t0 = Date.now();
    for (let i = 0; i < N; i++) await act();
    await sleep(5000); // event delivery and consumers settle
    const window = Date.now() - t0;
    const active = counter.snapshot();
    const activeDetail = counter.detail();
    counter.reset();
    await sleep(window);
    const idle = counter.snapshot();
    const idleDetail = counter.detail();
    const net = (a: CallCounts, b: CallCounts): CallCounts => {
      const out: CallCounts = {};
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const v = ((a[k] ?? 0) - (b[k] ?? 0)) / N;
        if (v > 0.05) out[k] = Number(v.toFixed(2));
      }
      return out;
    };
    const perAction = net(active, idle);
    const perActionDetail = net(activeDetail, idleDetail);
    const perActionTotal = Number(
      Object.values(perAction)
        .reduce((a, b) => a + b, 0)
        .toFixed(2),
    );

    // Sustained: `workers` agents-worth of concurrent callers for `seconds`.
    const seconds = o.seconds ?? 20;
    const workers = o.workers ?? 20;
    const lat: number[] = [];
    let ok = 0;
    let throttled = 0;
    let other = 0;
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (Date.now() < until) {
          const t = performance.now();
          const r = await act().catch(() => ({ status: 0 }));
          if (r.status === 200) {
            ok++;
            lat.push(performance.now() - t);
          } else if (r.status === 429) {
            throttled++;
            await sleep(200);
          } else other++;
        }
      }),
    );
    return {
      perAction,
      perActionDetail,
      perActionTotal,
      sustained: {
        actions_per_s: Number((ok / seconds).toFixed(1)),
        p50_ms: pct(lat, 50),
        p99_ms: pct(lat, 99),
        ok,
        throttled,
        other,
        seconds,
        workers,
      },
    };
  } finally {
    await rt.stop({ graceMs: 2000 });
    await okta.close();
    await moto.stop(500);
  }
}
