// biome-ignore-all lint/suspicious/noExplicitAny: HTTP JSON bodies
/**
 * Reliability load against the dev runtime (issue 18): many agents, governed autonomous actions,
 * held actions approved by a manager, with AWS faults injected through local/faults.ts. Loopback
 * only, bounded in time and in count. Then it accounts for every request:
 *  - executed: actions the action store holds as `executed` (GET /v1/actions/{id});
 *  - recorded: `operation.executed` audit events per action (GET /v1/audit/events);
 *  - sealed: each of those events has an inclusion proof in a sealed block (GET …/proof), and the
 *    chain's tree size equals the events recorded once nothing is pending;
 *  - refused: every non-2xx answer, by status and error code.
 */
import { randomBytes } from 'node:crypto';
import { emulatorEnv, freePort, startMoto } from '../local/moto.js';
import { clearFaults, faultStats, injectFaults, resetFaultStats, type FaultRule } from '../local/faults.js';
import { fakeOkta, recordingServer } from '../test/integration/actions/support.js';
import type { LocalRuntime } from '../local/runtime.js';

const POLICY = `
- name: okta-governed
  connector: okta
  operations:
    "users:read*": low
    "users:deactivate": high
  risk_max: critical
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PhaseResult {
  label: string;
  seconds: number;
  workers: number;
  agents: number;
  requests: number;
  autonomous_submitted: number;
  held_submitted: number;
  decisions: number;
  executed: number;
  audit_events_recorded: number;
  leaves_sealed: number;
  lost: number;
  duplicated: number;
  refused: Record<string, number>;
  refused_total: number;
  /** The action store's status of every action the load created. */
  store_status: Record<string, number>;
  unaccounted: number;
  actions_per_s: number;
  faults_injected: number;
  fault_attempts: number;
  faults: readonly FaultRule[];
  injected_by_kind: Record<string, number>;
}

export interface ReliabilityEnv {
  rt: LocalRuntime;
  call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }>;
  admin: string;
  auditor: string;
  approver: string;
  stop(): Promise<void>;
}

export async function startReliabilityEnv(): Promise<ReliabilityEnv> {
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
    prefix: `r${randomBytes(3).toString('hex')}`,
  });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(rt.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    return { status: r.status, json: (await r.json().catch(() => undefined)) as any };
  };
  const admin = await rt.idp.token({ sub: 'bench', tenant: 'acme', roles: ['admin'] });
  const auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
  const approver = await rt.idp.token({ sub: 'mgr', tenant: 'acme', roles: ['admin', 'approver'] });
  const cfg = await call('PUT', '/v1/connectors/okta', admin, {
    config: { base_url: okta.url },
    secret: { api_token: 'bench-token' },
  });
  if (cfg.status !== 200) throw new Error(`connector config failed: ${cfg.status}`);
  const b = await call('POST', '/v1/policies/bundles', admin, { format: 'yaml', document: POLICY });
  if ((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, admin)).status !== 200)
    throw new Error('promote failed');
  return {
    rt,
    call,
    admin,
    auditor,
    approver,
    stop: async () => {
      clearFaults();
      await rt.stop({ graceMs: 2000 });
      await okta.close();
      await moto.stop(500);
    },
  };
}

async function agentToken(env: ReliabilityEnv, name: string): Promise<string> {
  const reg = await env.call('POST', '/v1/identity/agents', env.admin, {
    platform: 'langchain',
    platform_native_id: name,
    owner: { oidc_sub: 'owner' },
  });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status}`);
  const tok = await fetch(`${env.rt.url}/v1/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: reg.json.bootstrap_token,
      subject_token_type: 'urn:arx:params:oauth:token-type:bootstrap',
      audience: 'arx',
    }).toString(),
  }).then((r) => r.json() as Promise<{ access_token: string }>);
  return tok.access_token;
}

const reason = (r: { status: number; json: any }): string =>
  `${r.status} ${r.json?.error?.code ?? r.json?.code ?? r.json?.status ?? r.json?.error ?? ''}`.trim();

/** Polls until the chain has nothing pending (or `ms` passes); returns the last status. */
export async function settle(env: ReliabilityEnv, ms = 90_000): Promise<any> {
  const until = Date.now() + ms;
  let s: any = {};
  let quiet = 0;
  while (Date.now() < until) {
    s = (await env.call('GET', '/v1/audit/chain/status', env.auditor)).json ?? {};
    quiet = s.pending_events === 0 ? quiet + 1 : 0;
    if (quiet >= 3) break;
    await sleep(1000);
  }
  return s;
}

async function listAll(env: ReliabilityEnv, query: string): Promise<any[]> {
  const out: any[] = [];
  let next: string | undefined;
  do {
    const path = `/v1/audit/events?limit=200${query}${next ? `&next_token=${encodeURIComponent(next)}` : ''}`;
    let r = await env.call('GET', path, env.auditor);
    // A read the handler's timeout cut short (two shared cores under load) is read again.
    for (let i = 0; i < 4 && r.status >= 500; i++) {
      await sleep(2000);
      r = await env.call('GET', path, env.auditor);
    }
    if (r.status !== 200) throw new Error(`audit events: ${r.status}`);
    out.push(...(r.json.items ?? []));
    next = r.json.next_token ?? undefined;
  } while (next);
  return out;
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/**
 * One load phase: `workers` concurrent callers over `agents` agents for `seconds` (and at most
 * `maxRequests`), a `heldShare` of them held for approval then approved; faults on during the load
 * only, then off while the runtime drains and the figures are read.
 */
export async function loadPhase(
  env: ReliabilityEnv,
  o: {
    label: string;
    seconds: number;
    workers: number;
    agents: number;
    faults: readonly FaultRule[];
    heldShare?: number;
    maxRequests?: number;
    seed?: number;
    verifyProofs?: boolean;
  },
): Promise<PhaseResult> {
  const tag = randomBytes(3).toString('hex');
  const tokens = await Promise.all(
    Array.from({ length: o.agents }, (_, i) => agentToken(env, `${o.label}-${tag}-${i}`)),
  );
  const actionIds = new Set<string>();
  const refused: Record<string, number> = {};
  const refuse = (k: string) => {
    refused[k] = (refused[k] ?? 0) + 1;
  };
  let requests = 0;
  let autonomous = 0;
  let held = 0;
  let decisions = 0;
  let answered = 0;
  let unaccounted = 0;
  const heldShare = o.heldShare ?? 0.2;
  const max = o.maxRequests ?? 5000;
  let k = 0;
  resetFaultStats();
  if (o.faults.length) injectFaults(o.faults, o.seed ?? 7);
  const t0 = Date.now();
  const until = t0 + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.workers }, async (_, w) => {
      while (Date.now() < until && requests < max) {
        requests++;
        const n = k++;
        const token = tokens[(w + n) % tokens.length]!;
        const isHeld = (n * 0.618) % 1 < heldShare;
        if (isHeld) held++;
        else autonomous++;
        const body = isHeld
          ? { connector: 'okta', operation: 'users:deactivate', params: { user_id: `00u${(n % 3) + 1}` } }
          : { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } };
        const r = await env.call('POST', '/v1/actions', token, body).catch((e) => ({
          status: 0,
          json: { code: (e as Error).name },
        }));
        answered++;
        if (r.json?.action_id) actionIds.add(r.json.action_id);
        else if (r.status === 200 || r.status === 202) unaccounted++;
        if (r.status === 200) continue;
        if (r.status === 202 && r.json?.approval_id) {
          const d = await env
            .call('POST', `/v1/approvals/${r.json.approval_id}/decision`, env.approver, {
              decision: 'approve',
              reason: 'reliability bench',
            })
            .catch((e) => ({ status: 0, json: { code: (e as Error).name } }));
          decisions++;
          if (d.status !== 200) refuse(`decision ${reason(d)}`);
          continue;
        }
        refuse(reason(r));
        if (r.status === 429) await sleep(200);
      }
    }),
  );
  const seconds = (Date.now() - t0) / 1000;
  const stats = faultStats();
  const injectedTotal = Object.values(stats.injected).reduce((a, b) => a + b, 0);
  const attemptsTotal = Object.values(stats.attempts).reduce((a, b) => a + b, 0);
  const byKind: Record<string, number> = {};
  for (const [key, v] of Object.entries(stats.injected)) byKind[key] = v;
  clearFaults();

  // Drain: the outbox relays, the sealer seals, then count.
  await settle(env);
  let executed = 0;
  const statusCount: Record<string, number> = {};
  const executedIds = new Set<string>();
  await pool([...actionIds], 4, async (id) => {
    const a = await env.call('GET', `/v1/actions/${id}`, env.admin);
    const st = a.json?.status ?? `http_${a.status}`;
    statusCount[st] = (statusCount[st] ?? 0) + 1;
    if (st === 'executed') {
      executed++;
      executedIds.add(id);
    }
  });
  const events = (await listAll(env, '&type=operation.executed')).filter((e) => actionIds.has(e.action_id));
  const perAction = new Map<string, number>();
  for (const e of events) perAction.set(e.action_id, (perAction.get(e.action_id) ?? 0) + 1);
  let duplicated = 0;
  for (const v of perAction.values()) duplicated += Math.max(0, v - 1);
  const recordedFor = [...executedIds].filter((id) => perAction.has(id)).length;
  let sealed = 0;
  if (o.verifyProofs !== false) {
    await pool(events, 4, async (e) => {
      const p = await env.call('GET', `/v1/audit/events/${e.event_id}/proof`, env.auditor);
      if (p.status === 200) sealed++;
    });
  }
  return {
    label: o.label,
    seconds: Number(seconds.toFixed(1)),
    workers: o.workers,
    agents: o.agents,
    requests: answered,
    autonomous_submitted: autonomous,
    held_submitted: held,
    decisions,
    executed,
    audit_events_recorded: events.length,
    leaves_sealed: sealed,
    lost: executed - recordedFor + (o.verifyProofs !== false ? events.length - sealed : 0),
    duplicated,
    refused,
    store_status: statusCount,
    refused_total: Object.values(refused).reduce((a, b) => a + b, 0),
    unaccounted,
    actions_per_s: Number((executed / seconds).toFixed(2)),
    faults_injected: injectedTotal,
    fault_attempts: attemptsTotal,
    faults: o.faults,
    injected_by_kind: byKind,
  };
}

/** Whole-chain check: once nothing is pending, the tree holds every recorded event (no event lost, none twice). */
export async function chainTotals(env: ReliabilityEnv): Promise<{ events: number; tree_size: number; height: number }> {
  const s = await settle(env);
  const all = await listAll(env, '');
  return { events: all.length, tree_size: s.tree_size ?? 0, height: s.height ?? 0 };
}
