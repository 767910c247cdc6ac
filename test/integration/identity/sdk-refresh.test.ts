// The TypeScript SDK keeps an agent working past its first SVID's expiry: real identity handler on
// moto with 2 s SVIDs (ARX_SVID_TTL_SECONDS), the SDK's fetch routed into it, each SVID checked by
// the real authorizer.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { ArxClient } from '../../../sdk/index.js';
import { admin, setupIdentity, uniqueTenant } from './harness.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const TENANT = uniqueTenant();
const SVID_S = 2;

beforeAll(async () => {
  h = await setupIdentity({ ARX_SVID_TTL_SECONDS: String(SVID_S) });
});

/** The SDK's fetch: the token endpoint through the real handler; the form crosses as the wire would. */
function handlerFetch(grants: string[]): typeof fetch {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    expect(path).toBe('/v1/identity/token');
    const body = String(init?.body ?? '');
    grants.push(new URLSearchParams(body).get('grant_type') ?? '');
    const r = await h.api('POST', '/v1/identity/token', {
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    return new Response(r.body ?? '', { status: r.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

describe('ArxClient renews its SVID with refresh tokens (against moto)', () => {
  it('keeps getting SVIDs the authorizer accepts well past the first one expired; the bootstrap is sent once', async () => {
    const { authenticate } = await import('../../../lambdas/platform/handlers/authorizer.js');
    const reg = await h.api('POST', '/v1/identity/agents', {
      auth: admin(TENANT),
      ...h.json({ platform: 'langchain', platform_native_id: `n-${Math.random()}`, owner: { oidc_sub: 'owner-s' } }),
    });
    expect(reg.status).toBe(201);
    const grants: string[] = [];
    const client = new ArxClient({
      apiUrl: 'http://arx.invalid',
      bootstrapToken: reg.json.bootstrap_token,
      refreshSkewMs: 500,
      fetch: handlerFetch(grants),
    });
    const first = await client.token();
    const exp = decodeJwt(first).exp!;
    expect(exp - decodeJwt(first).iat!).toBe(SVID_S);
    const seen = new Set<string>();
    while (Date.now() / 1000 < exp + 2 * SVID_S) {
      const t = await client.token();
      await expect(authenticate(t)).resolves.toBeDefined();
      seen.add(t);
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(grants[0]).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(grants.slice(1).every((g) => g === 'refresh_token')).toBe(true);
    expect(grants.length).toBe(seen.size);
    // Nothing of the refresh token is reachable from the outside of the client.
    expect(JSON.stringify(client)).not.toContain('arxrt_');
  });
});
