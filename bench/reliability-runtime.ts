// biome-ignore-all lint/suspicious/noExplicitAny: HTTP JSON bodies
/**
 * Reliability load against the dev runtime (issue 18): many agents, governed autonomous actions,
 * held actions approved by a manager, with AWS faults injected through local/faults.ts. Loopback
 * only, bounded in time and in count. Then it accounts for every request:
 *  - executed: actions the action store holds as `executed` (GET /v1/actions/{id});
 *  - recorded: `operation.executed` audit events per action (GET /v1/audit/events);
 *  - sealed: each of those events has an inclusion proof in a sealed block (GET …/proof), and the
 *    chain's tree size equals the events recorded once nothing is pending;
 *  - refused: every non-2xx answer, by status and error code; refusals with an action record
 *    (a policy forbid: 403 `denied`) are told apart from refusals without one (the killed agent);
 *  - spans: each OTLP/JSON batch's accepted spans are read back from GET /v1/traces/{id};
 *  - decisions: POST /v1/policies/evaluate answers against what the policy says;
 *  - bad inputs: a dedicated agent's malformed requests, each answered 4xx, none leaving a trace.
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
  /** Action requests (POST /v1/actions) and how each was answered. */
  action_requests: number;
  actions_created: number;
  refused_with_record: Record<string, number>;
  refused_without_record: Record<string, number>;
  /** Created actions whose store status is not the one their answer said (200 executed, 403 denied). */
  status_mismatch: number;
  /** operation.executed events for actions the store does not hold as executed. */
  events_for_unexecuted: number;
  killed_agent: { agent_id: string; at_s: number; terminate_status: number; termination_status?: string } | null;
  otlp: {
    posts: number;
    spans_sent: number;
    spans_accepted: number;
    spans_rejected: number;
    spans_readable: number;
    spans_lost: number;
    spans_duplicated: number;
    refused: Record<string, number>;
  };
  evaluations: {
    total: number;
    permit: number;
    forbid: number;
    as_expected: number;
    unexpected: Record<string, number>;
    refused: Record<string, number>;
  };
  bad_inputs: {
    total: number;
    by_kind: Record<string, Record<string, number>>;
    by_status: Record<string, number>;
    not_4xx: number;
    action_ids_returned: number;
    audit_events_of_bad_agent: number;
    bad_agent_event_types: Record<string, number>;
  };
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

async function agentToken(env: ReliabilityEnv, name: string): Promise<{ id: string; token: string }> {
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
  return { id: reg.json.agent_id, token: tok.access_token };
}

const reason = (r: { status: number; json: any }): string =>
  `${r.status} ${
    r.json?.error?.code ??
    r.json?.code ??
    r.json?.status ??
    r.json?.error ??
    (
      String(r.json?.type ?? '')
        .split('/')
        .pop() || r.json?.message
    ) ??
    ''
  }`.trim();

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

/** One OTLP/JSON export of `n` spans for `agentId` in a fresh trace. */
function otlpBatch(agentId: string, n: number): { traceId: string; spanIds: string[]; body: unknown } {
  const traceId = randomBytes(16).toString('hex');
  const spanIds = Array.from({ length: n }, () => randomBytes(8).toString('hex'));
  const now = BigInt(Date.now()) * 1_000_000n;
  const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
  return {
    traceId,
    spanIds,
    body: {
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', 'reliability-agent'), str('gen_ai.agent.id', agentId)] },
          scopeSpans: [
            {
              scope: { name: 'reliability-bench', version: '1' },
              spans: spanIds.map((id, i) => ({
                traceId,
                spanId: id,
                ...(i ? { parentSpanId: spanIds[0] } : {}),
                name: i ? 'execute_tool okta:users:read' : 'chat claude-sonnet-4',
                kind: i ? 1 : 3,
                startTimeUnixNano: String(now + BigInt(i) * 1000n),
                endTimeUnixNano: String(now + BigInt(i) * 1000n + 5_000_000n),
                attributes: [str('gen_ai.operation.name', i ? 'execute_tool' : 'chat')],
              })),
            },
          ],
        },
      ],
    },
  };
}

/** Malformed requests the bad-input agent sends (each must be answered 4xx and change nothing). */
const BAD_INPUTS: { kind: string; path: string; body: string; approver?: boolean }[] = [
  { kind: 'actions_bad_json', path: '/v1/actions', body: '{"connector":"okta",' },
  { kind: 'actions_missing_fields', path: '/v1/actions', body: JSON.stringify({ operation: 'users:read' }) },
  {
    kind: 'actions_unknown_connector',
    path: '/v1/actions',
    body: JSON.stringify({ connector: 'nope', operation: 'users:read', params: { user_id: '00u1' } }),
  },
  {
    kind: 'actions_unknown_operation',
    path: '/v1/actions',
    body: JSON.stringify({ connector: 'okta', operation: 'users:explode', params: {} }),
  },
  {
    kind: 'actions_wrong_types',
    path: '/v1/actions',
    body: JSON.stringify({ connector: 'okta', operation: 42, params: 'x' }),
  },
  {
    kind: 'actions_oversize_300KiB',
    path: '/v1/actions',
    body: JSON.stringify({
      connector: 'okta',
      operation: 'users:read',
      params: { user_id: '00u1', pad: 'x'.repeat(300 * 1024) },
    }),
  },
  { kind: 'evaluate_wrong_types', path: '/v1/policies/evaluate', body: JSON.stringify({ principal: 'me', action: 7 }) },
  { kind: 'otlp_bad_json', path: '/v1/otlp/v1/traces', body: '{oops' },
  {
    kind: 'decision_bad_value',
    path: '/v1/approvals/apr_doesnotexist/decision',
    body: JSON.stringify({ decision: 'maybe' }),
    approver: true,
  },
];

const inc = (m: Record<string, number>, k: string, by = 1) => {
  m[k] = (m[k] ?? 0) + by;
};
const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

/**
 * One load phase: `workers` concurrent callers over `agents` agents for `seconds` (and at most
 * `maxRequests`). Each request is, by a low-discrepancy sequence: a governed action held for
 * approval then approved (`heldShare`), an OTLP/JSON export (`otlpShare`), a policy evaluation
 * (`evaluateShare`), a malformed request from a dedicated agent (`badShare`), an action the policy
 * forbids (`deniedShare`), or else an autonomous action. With `kill`, the first agent is terminated
 * (kill switch) half way through. Faults on during the load only, then off while the runtime
 * drains and the figures are read.
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
    otlpShare?: number;
    evaluateShare?: number;
    badShare?: number;
    deniedShare?: number;
    kill?: boolean;
    maxRequests?: number;
    seed?: number;
    verifyProofs?: boolean;
  },
): Promise<PhaseResult> {
  const tag = randomBytes(3).toString('hex');
  const agents = await Promise.all(
    Array.from({ length: o.agents }, (_, i) => agentToken(env, `${o.label}-${tag}-${i}`)),
  );
  const badAgent = await agentToken(env, `${o.label}-${tag}-bad`);
  const actionIds = new Set<string>();
  /** What each created action's answer said (executed / pending_approval / denied). */
  const answeredAs = new Map<string, string>();
  const refused: Record<string, number> = {};
  const withRecord: Record<string, number> = {};
  const withoutRecord: Record<string, number> = {};
  const decisionRefused: Record<string, number> = {};
  let requests = 0;
  let autonomous = 0;
  let held = 0;
  let decisions = 0;
  let answered = 0;
  let actionRequests = 0;
  let noIdSuccess = 0;
  const otlp = {
    posts: 0,
    spans_sent: 0,
    spans_accepted: 0,
    spans_rejected: 0,
    spans_readable: 0,
    spans_lost: 0,
    spans_duplicated: 0,
    refused: {} as Record<string, number>,
  };
  const traces = new Map<string, Set<string>>();
  const evaluations = {
    total: 0,
    permit: 0,
    forbid: 0,
    as_expected: 0,
    unexpected: {} as Record<string, number>,
    refused: {} as Record<string, number>,
  };
  const bad = {
    total: 0,
    by_kind: {} as Record<string, Record<string, number>>,
    by_status: {} as Record<string, number>,
    not_4xx: 0,
    action_ids_returned: 0,
    audit_events_of_bad_agent: 0,
    bad_agent_event_types: {} as Record<string, number>,
  };
  const heldShare = o.heldShare ?? 0.2;
  const otlpShare = o.otlpShare ?? 0;
  const evaluateShare = o.evaluateShare ?? 0;
  const badShare = o.badShare ?? 0;
  const deniedShare = o.deniedShare ?? 0;
  const max = o.maxRequests ?? 5000;
  const shares = [
    ['held', heldShare],
    ['otlp', otlpShare],
    ['evaluate', evaluateShare],
    ['bad', badShare],
    ['denied', deniedShare],
  ] as const;
  const pickKind = (u: number): (typeof shares)[number][0] | 'autonomous' => {
    let edge = 0;
    for (const [name, share] of shares) {
      edge += share;
      if (u < edge) return name;
    }
    return 'autonomous';
  };
  const victim = o.kill ? agents[0]! : undefined;
  let killedAt = Number.POSITIVE_INFINITY;
  let killSentAt = Number.POSITIVE_INFINITY;
  /** A refusal of the victim answered once the terminate was sent is the kill's. */
  const byKill = (agent: { id: string }) => (agent === victim && Date.now() >= killSentAt ? 'killed agent ' : '');
  let killed: PhaseResult['killed_agent'] = null;
  let victimExecutedAfterKill = 0;
  let k = 0;
  let badK = 0;
  const err = (e: unknown) => ({ status: 0, json: { code: (e as Error).name } as any });
  const sendBad = async (b: (typeof BAD_INPUTS)[number]) => {
    const res = await fetch(env.rt.url + b.path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${b.approver ? env.approver : badAgent.token}`,
        'content-type': 'application/json',
      },
      body: b.body,
      signal: AbortSignal.timeout(60_000),
    }).catch(() => undefined);
    const status = res?.status ?? 0;
    const json = (await res?.json().catch(() => undefined)) as any;
    answered++;
    bad.total++;
    bad.by_kind[b.kind] ??= {};
    inc(bad.by_kind[b.kind]!, String(status));
    inc(bad.by_status, String(status));
    if (status < 400 || status >= 500) bad.not_4xx++;
    if (json?.action_id) bad.action_ids_returned++;
  };
  resetFaultStats();
  if (o.faults.length) injectFaults(o.faults, o.seed ?? 7);
  const t0 = Date.now();
  const until = t0 + o.seconds * 1000;
  const killer = victim
    ? (async () => {
        await sleep((o.seconds * 1000) / 2);
        killSentAt = Date.now();
        const r = await env
          .call('POST', `/v1/agents/${victim.id}/terminate`, env.admin, { reason: 'reliability bench: kill mid-phase' })
          .catch(err);
        killedAt = Date.now();
        killed = {
          agent_id: victim.id,
          at_s: Number(((killedAt - t0) / 1000).toFixed(1)),
          terminate_status: r.status,
          ...(r.json?.termination_id ? { termination_status: r.json.termination_id as string } : {}),
        };
      })()
    : Promise.resolve();
  await Promise.all(
    Array.from({ length: o.workers }, async (_, w) => {
      while (Date.now() < until && requests < max) {
        requests++;
        const n = k++;
        const agent = agents[(w + n) % agents.length]!;
        const u = (n * 0.618034) % 1;
        const sentAt = Date.now();
        const kind = pickKind(u);
        if (kind === 'otlp') {
          const b = otlpBatch(agent.id, 3);
          const r = await env.call('POST', '/v1/otlp/v1/traces', agent.token, b.body).catch(err);
          answered++;
          otlp.posts++;
          otlp.spans_sent += b.spanIds.length;
          if (r.status !== 200) {
            inc(otlp.refused, `${byKill(agent)}${reason(r)}`);
            otlp.spans_rejected += b.spanIds.length;
            continue;
          }
          const rejected = Number(r.json?.partialSuccess?.rejectedSpans ?? 0);
          otlp.spans_rejected += rejected;
          otlp.spans_accepted += b.spanIds.length - rejected;
          if (rejected === 0) traces.set(b.traceId, new Set(b.spanIds));
          else inc(otlp.refused, `200 partial ${rejected}`);
          continue;
        }
        if (kind === 'evaluate') {
          const ops = ['okta:users:read', 'okta:users:deactivate', 'okta:groups:list'] as const;
          const action = ops[n % 3]!;
          const r = await env
            .call('POST', '/v1/policies/evaluate', agent.token, { principal: { type: 'Agent', id: agent.id }, action })
            .catch(err);
          answered++;
          evaluations.total++;
          if (r.status !== 200) {
            inc(evaluations.refused, `${byKill(agent)}${reason(r)}`);
            continue;
          }
          const effect = r.json?.effect;
          if (effect === 'permit') evaluations.permit++;
          else evaluations.forbid++;
          const afterKill = agent === victim && sentAt > killedAt;
          const want = afterKill || action === 'okta:groups:list' ? 'forbid' : 'permit';
          const wantApproval = action === 'okta:users:deactivate' ? 'hitl' : 'none';
          if (effect === want && (want === 'forbid' || r.json?.approval === wantApproval)) evaluations.as_expected++;
          else
            inc(evaluations.unexpected, `${action} ${effect}/${r.json?.approval}${afterKill ? ' (killed agent)' : ''}`);
          continue;
        }
        if (kind === 'bad') {
          await sendBad(BAD_INPUTS[badK++ % BAD_INPUTS.length]!);
          continue;
        }
        const isDenied = kind === 'denied';
        const isHeld = kind === 'held';
        if (isHeld) held++;
        else if (!isDenied) autonomous++;
        const body = isHeld
          ? { connector: 'okta', operation: 'users:deactivate', params: { user_id: `00u${(n % 3) + 1}` } }
          : isDenied
            ? { connector: 'okta', operation: 'groups:list', params: {} }
            : { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } };
        const r = await env.call('POST', '/v1/actions', agent.token, body).catch(err);
        answered++;
        actionRequests++;
        const who = byKill(agent) || (isDenied ? 'policy-denied op ' : '');
        if (r.json?.action_id) {
          actionIds.add(r.json.action_id);
          answeredAs.set(r.json.action_id, r.json.status ?? `http_${r.status}`);
          if (agent === victim && r.status === 200 && sentAt > killedAt + 1000) victimExecutedAfterKill++;
        } else if (r.status === 200 || r.status === 202) noIdSuccess++;
        if (r.status === 200) continue;
        if (r.status === 202 && r.json?.approval_id) {
          const d = await env
            .call('POST', `/v1/approvals/${r.json.approval_id}/decision`, env.approver, {
              decision: 'approve',
              reason: 'reliability bench',
            })
            .catch(err);
          decisions++;
          if (d.status !== 200) {
            inc(decisionRefused, `decision ${who}${reason(d)}`);
            inc(refused, `decision ${who}${reason(d)}`);
          }
          continue;
        }
        inc(refused, `${who}${reason(r)}`);
        inc(r.json?.action_id ? withRecord : withoutRecord, `${who}${reason(r)}`);
        if (r.status === 429) await sleep(200);
      }
    }),
  );
  await killer;
  // Every kind of bad input is tried at least once per phase (faults still on).
  if (badShare > 0) for (const b of BAD_INPUTS) if (!bad.by_kind[b.kind]) await sendBad(b);
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
  let statusMismatch = 0;
  const statusCount: Record<string, number> = {};
  const executedIds = new Set<string>();
  const want: Record<string, string> = { executed: 'executed', denied: 'denied' };
  await pool([...actionIds], 4, async (id) => {
    let a = await env.call('GET', `/v1/actions/${id}`, env.admin);
    for (let i = 0; i < 4 && a.status >= 500; i++) {
      await sleep(2000);
      a = await env.call('GET', `/v1/actions/${id}`, env.admin);
    }
    const st = a.json?.status ?? `http_${a.status}`;
    inc(statusCount, st);
    const said = answeredAs.get(id)!;
    if (want[said] && want[said] !== st) statusMismatch++;
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
  const eventsForUnexecuted = [...perAction.keys()].filter((id) => !executedIds.has(id)).length;
  let sealed = 0;
  if (o.verifyProofs !== false) {
    await pool(events, 4, async (e) => {
      const p = await env.call('GET', `/v1/audit/events/${e.event_id}/proof`, env.auditor);
      if (p.status === 200) sealed++;
    });
  }
  // Spans accepted are read back (hot store), none missing, none twice.
  await pool([...traces], 4, async ([traceId, ids]) => {
    let v = await env.call('GET', `/v1/traces/${traceId}`, env.admin);
    for (let i = 0; i < 4 && v.status >= 500; i++) {
      await sleep(2000);
      v = await env.call('GET', `/v1/traces/${traceId}`, env.admin);
    }
    const seen = new Map<string, number>();
    for (const sp of (v.json?.spans ?? []) as { span_id: string }[])
      if (ids.has(sp.span_id)) seen.set(sp.span_id, (seen.get(sp.span_id) ?? 0) + 1);
    otlp.spans_readable += seen.size;
    otlp.spans_lost += ids.size - seen.size;
    for (const c of seen.values()) otlp.spans_duplicated += c - 1;
  });
  // Spans accepted in a batch with a partial rejection are not read back: count them as lost if any.
  otlp.spans_lost += otlp.spans_accepted - [...traces.values()].reduce((a, t) => a + t.size, 0);
  // The bad-input agent's own registration and token exchange precede the load; anything it caused
  // during the load would be an event that occurred after t0.
  const badEvents = await listAll(env, `&agent_id=${badAgent.id}`);
  const since = new Date(t0).toISOString();
  bad.audit_events_of_bad_agent = badEvents.filter((e) => String(e.occurred_at) >= since).length;
  for (const e of badEvents)
    inc(
      bad.bad_agent_event_types,
      `${e.event_type}${String(e.occurred_at) >= since ? ' (during load)' : ' (before load)'}`,
    );
  if (killed && (killed as any).termination_status) {
    const t = await env.call('GET', `/v1/terminations/${(killed as any).termination_status}`, env.admin);
    (killed as any).termination_id = (killed as any).termination_status;
    (killed as any).termination_status = t.json?.status ?? `http_${t.status}`;
    (killed as any).victim_executed_after_kill_plus_1s = victimExecutedAfterKill;
  }
  const recorded =
    sum(statusCount) - sum(Object.fromEntries(Object.entries(statusCount).filter(([st]) => st.startsWith('http_'))));
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
    refused_total: sum(refused),
    action_requests: actionRequests,
    actions_created: actionIds.size,
    refused_with_record: withRecord,
    refused_without_record: withoutRecord,
    status_mismatch: statusMismatch,
    events_for_unexecuted: eventsForUnexecuted,
    killed_agent: killed,
    otlp,
    evaluations,
    bad_inputs: bad,
    unaccounted: actionRequests - actionIds.size - sum(withoutRecord) + noIdSuccess + (actionIds.size - recorded),
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
