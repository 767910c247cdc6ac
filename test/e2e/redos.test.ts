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
      body: { platform: 'langchain', platform_native_id: `redos-${randomBytes(3).toString('hex')}`, owner: { oidc_sub: 'owner-1' } },
    });
    expect(reg.status).toBe(201);
    agentId = reg.json.agent_id;
    svid = await new ArxClient({ apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token }).token();
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
  });

  it('F3: POST /v1/actions with "a@" + "."×60000 + "@" in params is answered in under 1 s and its audit event is recorded', async () => {
    // Params are capped at 64 KB (a larger body is a 400 before any schema runs); the quadratic
    // pattern needed ~5 s for this size, so the attack still reaches the audit redaction.
    const body = `a@${'.'.repeat(60_000)}@`;
    const req = { connector: 'http', operation: 'request:post', params: { path: '/', body } };
    expect(JSON.stringify(req).length).toBeLessThan(256 * 1024); // under the body limit: it reaches the handler

    // Warm the route once (cold module loads are not what is measured).
    expect((await call('POST', '/v1/actions', { token: svid, body: { ...req, params: { path: '/', body: 'warm' } } })).status).toBe(403);
    // Best of five: the machine is shared (other suites run beside this one). The vulnerable
    // pattern took ~1.4 s at 32 K characters and runs into the 29 s timeout at this size, so
    // even one fast answer shows it is gone; every answer must still come well within 5 s.
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await call('POST', '/v1/actions', { token: svid, body: req });
      times.push(performance.now() - t0);
      expect(r.status).toBe(403); // no bundle grants it: denied, and the denial is audited with the params
      expect(r.json.status).toBe('denied');
    }
    process.stdout.write(`F3 attack body answered in ${times.map((t) => `${Math.round(t)} ms`).join(', ')}\n`);
    expect(Math.min(...times)).toBeLessThan(1000);
    expect(Math.max(...times)).toBeLessThan(5000);
    // The review's 250 000-character body is refused at the params cap, just as fast.
    const t1 = performance.now();
    const big = await call('POST', '/v1/actions', { token: svid, body: { ...req, params: { path: '/', body: `a@${'.'.repeat(250_000)}@` } } });
    expect(big.status).toBe(400);
    expect(performance.now() - t1).toBeLessThan(5000);
    const evs = await eventually(async () => {
      const l = await call('GET', `/v1/audit/events?agent_id=${agentId}`, { token: auditor });
      const found = (l.json.items as { action: string; decision: string }[]).filter((e) => e.action === 'http:request:post');
      return found.length === 6 ? found : undefined; // the warm-up and the five attacks, all audited
    });
    expect(evs.map((e) => e.decision)).toEqual(Array(6).fill('forbid'));
  }, 60_000);
});
