import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/moto.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { testTemplate } from '../support/template.js';

/**
 * The authorizer's dependency (the IdP's JWKS endpoint) fails: first it resets every connection,
 * then it hangs. As an HTTP API answers when its Lambda authorizer errors or times out, the caller
 * gets 500 {"message":"Internal Server Error"} — never 401/403, which would say the token is bad.
 * (Its own process: the authorizer caches its IdP configuration per process.)
 */
describe('authorizer failure is an outage (500), not an invalid token (401)', () => {
  let rt: LocalRuntime;
  let jwks: Server;
  let mode: 'reset' | 'hang' = 'reset';
  const sockets: Socket[] = [];
  beforeAll(async () => {
    jwks = createServer((s) => {
      sockets.push(s);
      if (mode === 'reset') s.destroy();
    });
    const jwksPort = await freePort();
    await new Promise<void>((r) => jwks.listen(jwksPort, '127.0.0.1', () => r()));
    rt = await startLocalRuntime({
      template: testTemplate(),
      port: await freePort(),
      prefix: `t${randomBytes(4).toString('hex')}`,
      background: false,
      env: { ARX_IDP_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks.json` },
    });
  });
  afterAll(async () => {
    await rt?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((r) => jwks?.close(r));
  });

  const get = (token?: string) =>
    fetch(`${rt.url}/v1/discovery/agents`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(
      async (r) => ({ status: r.status, body: await r.json() }),
    );

  it('a valid token while the JWKS endpoint refuses connections: 500 Internal Server Error', async () => {
    const token = await rt.idp.token({ sub: 'ops', tenant: 'acme', roles: ['auditor'] });
    expect(await get(token)).toEqual({ status: 500, body: { message: 'Internal Server Error' } });
  });

  it('a valid token while the JWKS endpoint hangs (authorizer times out on it): 500 Internal Server Error', async () => {
    mode = 'hang';
    const token = await rt.idp.token({ sub: 'ops2', tenant: 'acme', roles: ['auditor'] });
    const t0 = Date.now();
    expect(await get(token)).toEqual({ status: 500, body: { message: 'Internal Server Error' } });
    // Bounded by the authorizer's timeouts (jose 5 s, API Gateway's 10 s), not left hanging.
    expect(Date.now() - t0).toBeLessThan(11_000);
  }, 20_000);

  it('a bad token is still 401 Unauthorized and no header is 401 without calling the authorizer', async () => {
    expect(await get('not.a.jwt')).toEqual({ status: 401, body: { message: 'Unauthorized' } });
    expect(await get()).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  });
});
