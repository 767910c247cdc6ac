// The refresh_token grant of POST /v1/identity/token through the real handler, against moto.
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sha256Hex } from '../../../lambdas/shared/ids.js';
import { admin, BOOT, GRANT, ISSUER_BASE, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const TENANT = uniqueTenant();
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

async function register(tenant = TENANT) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({ platform: 'langchain', platform_native_id: `native-${Math.random()}`, owner: { oidc_sub: 'owner-r' } }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string; spiffe_id: string; bootstrap_token: string };
}

const token = (params: Record<string, string>) => h.api('POST', '/v1/identity/token', h.form(params));
const refresh = (rt: string, extra: Record<string, string> = {}) =>
  token({ grant_type: 'refresh_token', refresh_token: rt, ...extra });

async function bootstrap(agent: { bootstrap_token: string }) {
  const r = await token({ grant_type: GRANT, subject_token: agent.bootstrap_token, subject_token_type: BOOT });
  expect(r.status).toBe(200);
  expect(r.json.refresh_token).toMatch(/^arxrt_/);
  return r.json as { access_token: string; refresh_token: string };
}

function expectInvalid(r: { status: number; json: any; headers: Record<string, string> }, error = 'invalid_grant') {
  expect(r.status).toBe(error === 'invalid_client' ? 401 : 400);
  expect(r.json.error).toBe(error);
  expect(typeof r.json.error_description).toBe('string');
  expect(r.json.access_token).toBeUndefined();
  expect(r.json.refresh_token).toBeUndefined();
  expect(r.headers['cache-control']).toBe('no-store');
}

const item = async (hash: string) =>
  (await ddb.send(new GetCommand({ TableName: h.env.ARX_CONTROL_TABLE, Key: { pk: `RT#${hash}`, sk: 'RT' } }))).Item;

beforeAll(async () => {
  h = await sharedIdentity();
});

describe('POST /v1/identity/token grant_type=refresh_token (RFC 6749 §6, RFC 9700 rotation)', () => {
  it('refreshes repeatedly; every SVID verifies against the JWKS and every answer carries a new refresh token', async () => {
    const agent = await register();
    let rt = (await bootstrap(agent)).refresh_token;
    const stored = await item(sha256Hex(rt));
    expect(stored).toMatchObject({ tenant_id: TENANT, agent_id: agent.agent_id, generation: 1, used: false });
    expect(JSON.stringify(stored)).not.toContain(rt);
    expect(Number(stored!.expires_at_epoch)).toBeGreaterThan(Date.now() / 1000 + 29 * 24 * 3600);
    const jwks = await h.api('GET', '/tenants/{tenant_id}/.well-known/jwks.json', { params: { tenant_id: TENANT } });
    const set = createLocalJWKSet(JSON.parse(jwks.body!));
    const seen = new Set<string>([rt]);
    for (let i = 0; i < 3; i++) {
      const r = await refresh(rt);
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe('no-store');
      const { payload } = await jwtVerify(r.json.access_token, set, {
        algorithms: ['ES256'],
        audience: 'arx',
        issuer: `${ISSUER_BASE}/tenants/${TENANT}`,
      });
      expect(payload).toMatchObject({ sub: agent.spiffe_id, gen: 1, owner_sub: 'owner-r' });
      expect(seen.has(r.json.refresh_token)).toBe(false);
      expect((await item(sha256Hex(rt)))!.used).toBe(true);
      seen.add(r.json.refresh_token);
      rt = r.json.refresh_token;
    }
  });

  it('a replayed (spent) token answers invalid_grant and revokes the family: the newest token stops working', async () => {
    const agent = await register();
    const first = (await bootstrap(agent)).refresh_token;
    const second = (await refresh(first)).json.refresh_token as string;
    const third = (await refresh(second)).json.refresh_token as string;
    const family = String((await item(sha256Hex(third)))!.family_id);
    expectInvalid(await refresh(first));
    expectInvalid(await refresh(third));
    // The revoked family is deleted with its tokens (refresh-lifecycle.test.ts covers the clean-up).
    expect(await item(sha256Hex(third))).toBeUndefined();
    const fam = await ddb.send(
      new GetCommand({ TableName: h.env.ARX_CONTROL_TABLE, Key: { pk: `RTFAM#${family}`, sk: 'RTFAM' } }),
    );
    expect(fam.Item).toBeUndefined();
    // Another agent's family is untouched.
    const other = (await bootstrap(await register())).refresh_token;
    expect((await refresh(other)).status).toBe(200);
  });

  it('refuses the token of a revoked agent and of a rotated credential', async () => {
    const agent = await register();
    const rt = (await bootstrap(agent)).refresh_token;
    const rv = await h.api('POST', '/v1/identity/agents/{id}/revoke', {
      params: { id: agent.agent_id },
      auth: admin(TENANT),
      ...h.json({ reason: 'compromised' }),
    });
    expect(rv.status).toBe(200);
    expectInvalid(await refresh(rt));
    // The revocation's credential cascade deleted the agent's refresh tokens.
    expect(await item(sha256Hex(rt))).toBeUndefined();

    const rotated = await register();
    const rt2 = (await bootstrap(rotated)).refresh_token;
    const rot = await h.api('POST', '/v1/identity/agents/{id}/rotate', {
      params: { id: rotated.agent_id },
      auth: admin(TENANT),
    });
    expect(rot.status).toBe(200);
    expectInvalid(await refresh(rt2));
    // The new generation's bootstrap starts a new family that works.
    const fresh = await bootstrap({ bootstrap_token: rot.json.bootstrap_token });
    expect((await refresh(fresh.refresh_token)).status).toBe(200);
  });

  it('refuses an expired refresh token', async () => {
    const agent = await register();
    const rt = (await bootstrap(agent)).refresh_token;
    await ddb.send(
      new UpdateCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        Key: { pk: `RT#${sha256Hex(rt)}`, sk: 'RT' },
        UpdateExpression: 'SET expires_at = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 1000).toISOString() },
      }),
    );
    expectInvalid(await refresh(rt));
    expect((await item(sha256Hex(rt)))!.used).toBe(false);
  });

  it('answers bad input with the RFC 6749 §5.2 codes and changes nothing', async () => {
    const agent = await register();
    const rt = (await bootstrap(agent)).refresh_token;
    expectInvalid(await token({ grant_type: 'refresh_token' }), 'invalid_request');
    expectInvalid(await refresh('arxrt_not-a-real-token'));
    expectInvalid(await refresh('garbage'));
    expectInvalid(await refresh(rt, { subject_token_type: BOOT }), 'invalid_request');
    expectInvalid(await refresh(rt, { audience: 'https://other.example' }), 'invalid_target');
    expectInvalid(await refresh(rt, { scope: 'a b c d'.repeat(200) }), 'invalid_scope');
    expectInvalid(await refresh(rt, { client_id: 'agt_not_me' }), 'invalid_client');
    expectInvalid(await token({ grant_type: 'authorization_code', code: 'x' }), 'unsupported_grant_type');
    const dup = await h.api('POST', '/v1/identity/token', {
      body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(rt)}&refresh_token=x`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectInvalid(dup, 'invalid_request');
    const json = await h.api('POST', '/v1/identity/token', h.json({ grant_type: 'refresh_token', refresh_token: rt }));
    expectInvalid(json, 'invalid_request');
    expect((await item(sha256Hex(rt)))!.used).toBe(false);
    expect((await refresh(rt)).status).toBe(200);
  });
});
