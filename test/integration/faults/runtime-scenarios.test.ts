// biome-ignore-all lint/suspicious/noExplicitAny: HTTP JSON bodies
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../../local/runtime.js';
import { clearFaults, injectFaults, injectedCount, resetFaultStats } from '../../../local/faults.js';
import { api, eventually, exchangeBootstrap, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from '../actions/support.js';

const POLICY = `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kid = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid;

/**
 * Issue 18 scenarios on the local runtime, each fault injected through local/faults.ts into the
 * runtime's own SDK clients (the handlers run in this process).
 */
describe('faults on the local runtime: fails closed, loses nothing', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let admin: string;
  let auditor: string;
  const exchange = (bootstrap: string) => exchangeBootstrap(rt.url, bootstrap);
  const register = async (name: string) => {
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: { platform: 'langchain', platform_native_id: name, owner: { oidc_sub: 'owner-1' } },
    });
    expect(reg.status).toBe(201);
    return reg.json.bootstrap_token as string;
  };
  const act = (svid: string) =>
    call('POST', '/v1/actions', {
      token: svid,
      body: { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } },
    });
  const executedEvents = async (actionId: string) => {
    const r = await call('GET', '/v1/audit/events?type=operation.executed&limit=200', { token: auditor });
    return (r.json.items as any[]).filter((e) => e.action_id === actionId);
  };

  beforeAll(async () => {
    const fake = fakeOkta('t0k');
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 't0k' } },
        })
      ).status,
    ).toBe(200);
    const b = await call('POST', '/v1/policies/bundles', { token: admin, body: { format: 'yaml', document: POLICY } });
    expect((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, { token: admin })).status).toBe(200);
  });
  afterEach(() => {
    clearFaults();
    resetFaultStats();
  });
  afterAll(async () => {
    clearFaults();
    await rt?.stop();
    await okta?.close();
  });

  it('KMS failing: no token is issued, and the token after recovery is signed by the same key (no fallback key)', async () => {
    const before = await exchange(await register('kms-before'));
    expect(before.status).toBe(200);
    const bootstrap = await register('kms-fault');
    injectFaults([{ service: 'kms', kind: '5xx', rate: 1 }]);
    const during = await exchange(bootstrap);
    expect(injectedCount('kms')).toBeGreaterThan(0);
    expect(during.status).toBeGreaterThanOrEqual(500);
    expect(during.json.access_token).toBeUndefined();
    clearFaults();
    const after = await exchange(await register('kms-after'));
    expect(after.status).toBe(200);
    expect(kid(after.json.access_token)).toBe(kid(before.json.access_token));
  }, 60_000);

  it('the bus failing: the action executes, its event is delivered later through the outbox, once', async () => {
    const svid = (await exchange(await register('bus'))).json.access_token as string;
    injectFaults([{ service: 'eventbridge', kind: '5xx', rate: 1 }]);
    const r = await act(svid);
    expect(r.status).toBe(200);
    await sleep(3000);
    expect(injectedCount('eventbridge')).toBeGreaterThan(0);
    clearFaults();
    const id = r.json.action_id as string;
    await eventually(async () => (await executedEvents(id)).length >= 1, 40_000, 500);
    await sleep(3000);
    expect(await executedEvents(id)).toHaveLength(1);
  }, 90_000);

  it('S3 failing: sealing waits (nothing sealed, nothing dropped), then seals every event once, chain intact', async () => {
    const svid = (await exchange(await register('s3'))).json.access_token as string;
    // Let anything pending seal first.
    await eventually(
      async () => (await call('GET', '/v1/audit/chain/status', { token: auditor })).json.pending_events === 0,
      40_000,
      500,
    );
    const h0 = (await call('GET', '/v1/audit/chain/status', { token: auditor })).json;
    injectFaults([{ service: 's3', kind: '5xx', rate: 1 }]);
    const r = await act(svid);
    expect(r.status).toBe(200);
    await sleep(8000);
    const during = (await call('GET', '/v1/audit/chain/status', { token: auditor })).json;
    expect(injectedCount('s3')).toBeGreaterThan(0);
    expect(during.height).toBe(h0.height);
    expect(during.pending_events).toBeGreaterThan(0);
    clearFaults();
    await eventually(
      async () => (await call('GET', '/v1/audit/chain/status', { token: auditor })).json.pending_events === 0,
      40_000,
      500,
    );
    const after = (await call('GET', '/v1/audit/chain/status', { token: auditor })).json;
    expect(after.height).toBeGreaterThan(h0.height);
    const [ev] = await executedEvents(r.json.action_id);
    expect(ev).toBeDefined();
    expect((await call('GET', `/v1/audit/events/${ev.event_id}/proof`, { token: auditor })).status).toBe(200);
    // Every event recorded is a leaf, none twice: the tree holds exactly the events.
    expect(after.tree_size).toBeGreaterThanOrEqual(h0.tree_size + during.pending_events);
    expect(after.pending_events).toBe(0);
  }, 90_000);

  it('the revocation table unreachable: new actions are refused once the cache window (500 ms) passes', async () => {
    const svid = (await exchange(await register('drl'))).json.access_token as string;
    expect((await act(svid)).status).toBe(200);
    const table = rt.env.ARX_REVOCATION_TABLE!;
    expect(table).toBeTruthy();
    const esc = table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, table: new RegExp(`^${esc}$`) }]);
    await sleep(1100);
    const refused = await act(svid);
    expect(injectedCount('dynamodb')).toBeGreaterThan(0);
    expect(refused.status).not.toBe(200);
    expect(refused.json?.status).not.toBe('executed');
    if (refused.json?.action_id) {
      clearFaults();
      const a = await call('GET', `/v1/actions/${refused.json.action_id}`, { token: admin });
      expect(a.json.status).not.toBe('executed');
    }
    clearFaults();
    await sleep(600);
    expect((await act(svid)).status).toBe(200);
  }, 60_000);

  it('throttling during a kill-switch run: the agent is refused within 1 s anyway, and the saga completes', async () => {
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: { platform: 'langchain', platform_native_id: 'kill-throttled', owner: { oidc_sub: 'owner-1' } },
    });
    const svid = (await exchange(reg.json.bootstrap_token)).json.access_token as string;
    expect((await act(svid)).status).toBe(200);
    // Every service the saga touches throttles one attempt in five (the SDK retries each call up to 3 times).
    injectFaults(
      ['dynamodb', 'sfn', 'kms', 'eventbridge', 'sqs', 's3', 'sts'].map((service) => ({
        service,
        kind: 'throttle' as const,
        rate: Number(process.env.KILL_RATE ?? 0.2),
      })),
      11,
    );
    const t0 = Date.now();
    let term: { status: number; json: any } = { status: 0, json: {} };
    for (let i = 0; i < 5 && term.status !== 202 && term.status !== 200; i++)
      term = await fetch(`${rt.url}/v1/agents/${reg.json.agent_id}/terminate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'fault drill' }),
      }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => ({})) }));
    expect([200, 202]).toContain(term.status);
    // The terminate call itself waits on the SDK's throttling backoff: the 1 s runs from its answer
    // ("revoked before this returns"), and the whole kill, request included, is bounded at 5 s.
    const answered = Date.now();
    // Probes every 200 ms, not one after another: a governed call that was let in just before the
    // kill can take seconds under throttling, and must not delay the next probe. "Refused within
    // 1 s" = every request sent 1 s or more after the terminate answered is refused.
    const probes: Promise<{ sentAt: number; status: number }>[] = [];
    while (Date.now() - answered < 2000) {
      const sentAt = Date.now();
      probes.push(act(svid).then((r) => ({ sentAt, status: r.status })));
      await sleep(200);
    }
    const results = await Promise.all(probes);
    const late = results.filter((p) => p.sentAt - answered >= 1000);
    expect(late.length).toBeGreaterThan(0);
    // Refused = not let through: mostly 401/403; a throttled request may also fail closed with a 5xx.
    expect(
      late.filter((p) => p.status < 400),
      `late probes (ms after the terminate answered → status): ${late.map((p) => `${p.sentAt - answered}→${p.status}`).join(', ')}`,
    ).toEqual([]);
    expect(late.filter((p) => p.status === 401 || p.status === 403).length).toBeGreaterThan(0);
    expect(answered - t0).toBeLessThan(5000);
    const done = await eventually(
      async () => {
        const s = await call('GET', `/v1/terminations/${term.json.termination_id}`, { token: admin }).catch(() => null);
        return s?.status === 200 && s.json.status !== 'in_flight' ? s.json : null;
      },
      60_000,
      500,
    );
    expect(injectedCount()).toBeGreaterThan(0);
    expect(done.status).toBe('complete');
  }, 90_000);
});
