import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArxClient } from '../../sdk/index.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';

/**
 * F3 / §2.2 over HTTP: the attack body of the review goes through the authorizer, the actions
 * handler, the PDP and the audit sink (redaction) of the local runtime, and is answered quickly.
 */
describe('ReDoS in audit redaction (F3), local runtime over HTTP', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let svid: string;
  let agentId: string;
  let auditor: string;

  beforeAll(async () => {
    rt = await startTestRuntime();
    call = api(rt.url);
    const admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `redos-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(reg.status).toBe(201);
    agentId = reg.json.agent_id;
    svid = await new ArxClient({ apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token }).token();
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
  });

  it('F3: POST /v1/actions with "a@" + "."×60000 + "@" in params is answered as fast as a benign body of its size (under 1 s on a quiet machine) and its audit event is recorded', async () => {
    // Params are capped at 64 KB (a larger body is a 400 before any schema runs); the quadratic
    // pattern needed ~5 s for this size, so the attack still reaches the audit redaction.
    const body = `a@${'.'.repeat(60_000)}@`;
    const req = { connector: 'http', operation: 'request:post', params: { path: '/', body } };
    expect(JSON.stringify(req).length).toBeLessThan(256 * 1024); // under the body limit: it reaches the handler

    // Warm the route once (cold module loads are not what is measured).
    expect(
      (await call('POST', '/v1/actions', { token: svid, body: { ...req, params: { path: '/', body: 'warm' } } }))
        .status,
    ).toBe(403);
    // Best of five: the machine is shared (other suites run beside this one). The vulnerable
    // pattern took ~1.4 s at 32 K characters and runs into the 29 s timeout at this size, so
    // even one fast answer shows it is gone; every answer must still come well within 5 s.
    // The baseline, measured beside it: a body of the same size without the pathological shape.
    const timed = async (b: typeof req): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await call('POST', '/v1/actions', { token: svid, body: b });
        times.push(performance.now() - t0);
        expect(r.status).toBe(403); // no bundle grants it: denied, and the denial is audited with the params
        expect(r.json.status).toBe('denied');
      }
      return times;
    };
    const benign = await timed({ ...req, params: { path: '/', body: 'x'.repeat(body.length) } });
    const times = await timed(req);
    const ms = (ts: number[]) => ts.map((t) => `${Math.round(t)} ms`).join(', ');
    process.stdout.write(`F3 attack body answered in ${ms(times)}; benign body of the same size in ${ms(benign)}\n`);
    // Under 1 s, or (on a loaded machine) within 3× the benign body's time: the vulnerable pattern
    // was quadratic, tens of times slower than the benign body at this size.
    expect(Math.min(...times)).toBeLessThan(Math.max(1000, 3 * Math.min(...benign)));
    // Every answer well within the 29 s timeout the vulnerable pattern ran into (a loaded machine has
    // answered single requests in 8 s beside benign ones of 2.4 s, so no tighter absolute bound holds).
    expect(Math.max(...times)).toBeLessThan(20_000);
    // The review's 250 000-character body is refused at the params cap, just as fast.
    const t1 = performance.now();
    const big = await call('POST', '/v1/actions', {
      token: svid,
      body: { ...req, params: { path: '/', body: `a@${'.'.repeat(250_000)}@` } },
    });
    expect(big.status).toBe(400);
    expect(performance.now() - t1).toBeLessThan(5000);
    const evs = await eventually(async () => {
      const l = await call('GET', `/v1/audit/events?agent_id=${agentId}`, { token: auditor });
      const found = (l.json.items as { action: string; decision: string }[]).filter(
        (e) => e.action === 'http:request:post',
      );
      return found.length === 11 ? found : undefined; // the warm-up, five benign bodies and five attacks, all audited
    });
    expect(evs.map((e) => e.decision)).toEqual(Array(11).fill('forbid'));
  }, 120_000);
});
