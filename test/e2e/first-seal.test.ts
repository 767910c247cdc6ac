import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, startTestRuntime } from '../support/runtime.js';

/**
 * Schedules fire once at start, then at their rate: the sealer (rate 1 minute, sealing every 5 s
 * while it runs) is already running when the first event arrives, so a fresh runtime seals its
 * first block within 10 s of it — not a minute later at the first tick.
 */
describe('local runtime: the first seal comes quickly', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  beforeAll(async () => {
    rt = await startTestRuntime();
    call = api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('a new runtime seals its first block within 10 s of the first audited event', async () => {
    const admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    const auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    const before = await call('GET', '/v1/audit/chain/status', { token: auditor });
    expect(before.status).toBe(200);
    expect(before.json.height ?? 0).toBe(0);

    const t0 = Date.now();
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: { platform: 'langchain', platform_native_id: 'first-seal', owner: { oidc_sub: 'owner-1' } },
    });
    expect(reg.status).toBe(201);
    let status: { height?: number; last_sealed_at?: string | null } = {};
    while (Date.now() - t0 < 10_000) {
      status = (await call('GET', '/v1/audit/chain/status', { token: auditor })).json;
      if ((status.height ?? 0) >= 1) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status.height).toBeGreaterThanOrEqual(1);
    expect(Date.parse(status.last_sealed_at!) - t0).toBeLessThan(10_000);
  }, 30_000);
});
