import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, calculateJwkThumbprint, exportJWK } from 'jose';
import { createPublicKey } from 'node:crypto';
import { KMSClient, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { admin, BOOT, GRANT, ISSUER_BASE, JWT, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const TENANT = uniqueTenant();

async function register(tenant = TENANT, native = `native-${Math.random()}`) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({
      platform: 'langchain',
      platform_native_id: native,
      owner: { oidc_sub: 'owner-7', email: 'o7@example.com' },
    }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string; spiffe_id: string; bootstrap_token: string };
}

const exchange = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  h.api('POST', '/v1/identity/token', h.form(params, headers));
const fromBootstrap = (token: string, extra: Record<string, string> = {}) =>
  exchange({ grant_type: GRANT, subject_token: token, subject_token_type: BOOT, ...extra });

async function jwksOf(tenant: string) {
  const r = await h.api('GET', '/tenants/{tenant_id}/.well-known/jwks.json', { params: { tenant_id: tenant } });
  expect(r.status).toBe(200);
  return r;
}

function expectOAuthError(
  r: { status: number; json: any; headers: Record<string, string> },
  status: number,
  error: string,
) {
  expect(r.status).toBe(status);
  expect(r.json.error).toBe(error);
  expect(typeof r.json.error_description).toBe('string');
  expect(r.json.access_token).toBeUndefined();
  expect(r.headers['cache-control']).toBe('no-store');
}

beforeAll(async () => {
  h = await sharedIdentity();
});

describe('POST /v1/identity/token (RFC 8693, against moto)', () => {
  it('exchanges a bootstrap token for a KMS-signed SVID that jose verifies against the published JWKS', async () => {
    const agent = await register();
    const r = await fromBootstrap(agent.bootstrap_token, { scope: 'okta:users:read okta:groups:read' });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json).toMatchObject({ issued_token_type: JWT, token_type: 'Bearer' });
    expect(r.json.expires_in).toBeLessThanOrEqual(3600);
    const jwks = await jwksOf(TENANT);
    expect(jwks.headers['cache-control']).toMatch(/max-age=\d+/);
    const set = JSON.parse(jwks.body!);
    const { payload, protectedHeader } = await jwtVerify(r.json.access_token, createLocalJWKSet(set), {
      algorithms: ['ES256'],
      audience: 'arx',
      issuer: `${ISSUER_BASE}/tenants/${TENANT}`,
    });
    expect(payload.sub).toBe(agent.spiffe_id);
    expect(payload.sub).toBe(`spiffe://${TENANT}.arx/langchain/${agent.agent_id}`);
    expect(payload).toMatchObject({ owner_sub: 'owner-7', gen: 1, scope: 'okta:users:read okta:groups:read' });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(3600);
    expect(typeof payload.jti).toBe('string');
    // kid = RFC 7638 thumbprint of the KMS public key.
    const kms = new KMSClient({});
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const keyItem = await ddb.send(
      new GetCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        Key: { pk: `T#${TENANT}#KEYS`, sk: `KEY#${protectedHeader.kid}` },
      }),
    );
    const spki = (await kms.send(new GetPublicKeyCommand({ KeyId: keyItem.Item!.key_arn }))).PublicKey!;
    const thumb = await calculateJwkThumbprint(
      await exportJWK(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })),
      'sha256',
    );
    expect(protectedHeader.kid).toBe(thumb);
  });

  it('accepts a bootstrap token once: a reuse and a concurrent race get invalid_grant and nothing', async () => {
    const agent = await register();
    expect((await fromBootstrap(agent.bootstrap_token)).status).toBe(200);
    expectOAuthError(await fromBootstrap(agent.bootstrap_token), 400, 'invalid_grant');
    const other = await register();
    const results = await Promise.all(Array.from({ length: 5 }, () => fromBootstrap(other.bootstrap_token)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expectOAuthError(r, 400, 'invalid_grant');
  });

  it('narrows scope and audience from an SVID, never widening it', async () => {
    const agent = await register();
    const root = (await fromBootstrap(agent.bootstrap_token, { scope: 'a b c' })).json.access_token as string;
    const narrow = await exchange({
      grant_type: GRANT,
      subject_token: root,
      subject_token_type: JWT,
      scope: 'a',
      audience: 'https://okta.example.com',
    });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scope).toBe('a');
    const set = createLocalJWKSet(JSON.parse((await jwksOf(TENANT)).body!));
    const { payload } = await jwtVerify(narrow.json.access_token, set, {
      algorithms: ['ES256'],
      audience: 'https://okta.example.com',
    });
    const { payload: parent } = await jwtVerify(root, set, { algorithms: ['ES256'], audience: 'arx' });
    expect(payload.exp!).toBeLessThanOrEqual(parent.exp!);
    expect(payload.parent_jti).toBe(parent.jti);
    expect(payload.gen).toBe(parent.gen);
    // More scope than the parent.
    expectOAuthError(
      await exchange({
        grant_type: GRANT,
        subject_token: narrow.json.access_token,
        subject_token_type: JWT,
        scope: 'a b',
      }),
      400,
      'invalid_scope',
    );
    // A target SVID cannot be re-pointed at another target (or back at ARX).
    expectOAuthError(
      await exchange({
        grant_type: GRANT,
        subject_token: narrow.json.access_token,
        subject_token_type: JWT,
        audience: 'https://other.example.com',
      }),
      400,
      'invalid_target',
    );
    expectOAuthError(
      await exchange({
        grant_type: GRANT,
        subject_token: narrow.json.access_token,
        subject_token_type: JWT,
        audience: 'arx',
      }),
      400,
      'invalid_target',
    );
  });

  it('answers malformed requests with the RFC 6749 error codes', async () => {
    const agent = await register();
    expectOAuthError(
      await exchange({ grant_type: 'client_credentials', subject_token: 'x', subject_token_type: BOOT }),
      400,
      'unsupported_grant_type',
    );
    expectOAuthError(await exchange({ grant_type: GRANT, subject_token_type: BOOT }), 400, 'invalid_request');
    expectOAuthError(
      await exchange({ grant_type: GRANT, subject_token: 'x', subject_token_type: 'urn:x:unknown' }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await h.api('POST', '/v1/identity/token', {
        body: `grant_type=${encodeURIComponent(GRANT)}&grant_type=x`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await h.api('POST', '/v1/identity/token', {
        body: JSON.stringify({ grant_type: GRANT }),
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'invalid_request',
    );
    const basic = await fromBootstrap(agent.bootstrap_token, {});
    expect(basic.status).toBe(200);
    const r = await exchange(
      { grant_type: GRANT, subject_token: 'x', subject_token_type: BOOT },
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    );
    expectOAuthError(r, 401, 'invalid_client');
    expect(r.headers['www-authenticate']).toBeDefined();
    expectOAuthError(await fromBootstrap('arxb_not-a-real-token'), 400, 'invalid_grant');
    expectOAuthError(
      await fromBootstrap((await register()).bootstrap_token, { audience: 'not a uri' }),
      400,
      'invalid_target',
    );
    expectOAuthError(
      await exchange({ grant_type: GRANT, subject_token: 'a.b.c', subject_token_type: JWT }),
      400,
      'invalid_grant',
    );
  });

  it('invalidates outstanding SVIDs and the old bootstrap token when the agent credential is rotated', async () => {
    const { authenticate } = await import('../../../lambdas/platform/handlers/authorizer.js');
    const agent = await register();
    const old = (await fromBootstrap(agent.bootstrap_token)).json.access_token as string;
    const ctx = await authenticate(old);
    expect(ctx).toMatchObject({
      principalType: 'agent',
      roles: ['agent'],
      agentId: agent.agent_id,
      spiffeId: agent.spiffe_id,
      tenantId: TENANT,
      subject: agent.spiffe_id,
    });
    const rot = await h.api('POST', '/v1/identity/agents/{id}/rotate', {
      params: { id: agent.agent_id },
      auth: admin(TENANT),
    });
    expect(rot.status).toBe(200);
    expect(rot.json.credential_generation).toBe(2);
    await new Promise((r) => setTimeout(r, 1100)); // the verifier's 1 s state window
    await expect(authenticate(old)).rejects.toThrow();
    expectOAuthError(
      await exchange({ grant_type: GRANT, subject_token: old, subject_token_type: JWT, scope: 'a' }),
      400,
      'invalid_grant',
    );
    const fresh = await fromBootstrap(rot.json.bootstrap_token);
    expect(fresh.status).toBe(200);
    expect((await authenticate(fresh.json.access_token)).agentId).toBe(agent.agent_id);
  });

  it('revokes an agent: revocation list entry, SVIDs refused by the authorizer and by the exchange', async () => {
    const { authenticate } = await import('../../../lambdas/platform/handlers/authorizer.js');
    const agent = await register();
    const svid = (await fromBootstrap(agent.bootstrap_token)).json.access_token as string;
    await authenticate(svid);
    const r = await h.api('POST', '/v1/identity/agents/{id}/revoke', {
      params: { id: agent.agent_id },
      auth: admin(TENANT),
      ...h.json({ reason: 'compromised' }),
    });
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('revoked');
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const drl = await ddb.send(
      new GetCommand({ TableName: h.env.ARX_REVOCATION_TABLE, Key: { tenant_id: TENANT, agent_id: agent.agent_id } }),
    );
    expect(drl.Item).toMatchObject({ spiffe_id: agent.spiffe_id, reason_code: 'revoked' });
    await new Promise((res) => setTimeout(res, 1100));
    await expect(authenticate(svid)).rejects.toThrow();
    expectOAuthError(
      await exchange({ grant_type: GRANT, subject_token: svid, subject_token_type: JWT }),
      400,
      'invalid_grant',
    );
    // Revoke with no body is the same operation (idempotent).
    expect(
      (await h.api('POST', '/v1/identity/agents/{id}/revoke', { params: { id: agent.agent_id }, auth: admin(TENANT) }))
        .status,
    ).toBe(200);
    // Another tenant's agent is not found.
    expect(
      (
        await h.api('POST', '/v1/identity/agents/{id}/revoke', {
          params: { id: agent.agent_id },
          auth: admin(uniqueTenant()),
        })
      ).status,
    ).toBe(404);
  });
});

describe('tenant keys and JWKS (against moto)', () => {
  it('rotates the tenant key: new kid signs, the old key stays published; JWKS has cache headers and ETag', async () => {
    const tenant = uniqueTenant();
    const a1 = await register(tenant);
    const before = (await fromBootstrap(a1.bootstrap_token)).json.access_token as string;
    const oldKid = decodeProtectedHeader(before).kid;
    const rot = await h.api('POST', '/v1/identity/keys/rotate', { auth: admin(tenant) });
    expect(rot.status).toBe(200);
    expect(rot.json.previous_kid).toBe(oldKid);
    const a2 = await register(tenant);
    const after = (await fromBootstrap(a2.bootstrap_token)).json.access_token as string;
    expect(decodeProtectedHeader(after).kid).toBe(rot.json.kid);
    const jwks = await jwksOf(tenant);
    const set = JSON.parse(jwks.body!);
    expect(set.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([oldKid, rot.json.kid].sort());
    for (const t of [before, after])
      await jwtVerify(t, createLocalJWKSet(set), { algorithms: ['ES256'], audience: 'arx' });
    const { authenticate } = await import('../../../lambdas/platform/handlers/authorizer.js');
    expect((await authenticate(before)).agentId).toBe(a1.agent_id);
    expect((await authenticate(after)).agentId).toBe(a2.agent_id);
    const again = await h.api('GET', '/tenants/{tenant_id}/.well-known/jwks.json', {
      params: { tenant_id: tenant },
      headers: { 'if-none-match': jwks.headers.etag! },
    });
    expect(again.status).toBe(304);
    expect(
      (await h.api('GET', '/tenants/{tenant_id}/.well-known/jwks.json', { params: { tenant_id: uniqueTenant() } }))
        .status,
    ).toBe(404);
  });

  it("refuses in the authorizer a token whose sub names another tenant than the key's", async () => {
    const { authenticate } = await import('../../../lambdas/platform/handlers/authorizer.js');
    const agent = await register();
    const svid = (await fromBootstrap(agent.bootstrap_token)).json.access_token as string;
    const [hdr, body, sig] = svid.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
    const other = uniqueTenant();
    await register(other);
    const forged = Buffer.from(
      JSON.stringify({
        ...claims,
        sub: claims.sub.replace(`${TENANT}.arx`, `${other}.arx`),
        iss: `${ISSUER_BASE}/tenants/${other}`,
      }),
    ).toString('base64url');
    await expect(authenticate(`${hdr}.${forged}.${sig}`)).rejects.toThrow();
  });
});
