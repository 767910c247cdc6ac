import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { SvidError, type SvidFailure } from '../../../lambdas/identity/core/verify.js';
import { AGENT_A, forge, es256, hs256, ISSUER_BASE, world } from './helpers.js';

const iss = `${ISSUER_BASE}/tenants/acme`;
const sub = `spiffe://acme.arx/langchain/${AGENT_A}`;

async function refused(p: Promise<unknown>, reason: SvidFailure) {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(SvidError);
  expect((e as SvidError).reason).toBe(reason);
}

describe('SvidIssuer', () => {
  it('mints an ES256 JWT-SVID that jose verifies against the published JWKS', async () => {
    const w = world();
    const { token, expires_in } = await w.mint({ scope: ['okta:users:read'] });
    const jwks = await w.keys.jwks('acme');
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      audience: 'arx',
      issuer: iss,
      currentDate: w.clock.now(),
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: jwks.keys[0]!.kid });
    expect(payload).toMatchObject({ sub, aud: 'arx', owner_sub: 'owner-1', gen: 1, scope: 'okta:users:read' });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(expires_in);
    expect(expires_in).toBeLessThanOrEqual(3600);
  });

  it('caps the lifetime at 60 minutes and at the parent expiry', async () => {
    const w = world();
    const long = await w.mint({ ttlS: 10 * 3600 });
    expect(long.claims.exp - long.claims.iat).toBe(3600);
    const child = await w.mint({ notAfter: long.claims.iat + 120 });
    expect(child.claims.exp).toBe(long.claims.iat + 120);
  });

  it('issues nothing when KMS cannot sign (no local fallback key)', async () => {
    const w = world();
    await w.keys.activeKey('acme');
    w.kms.failSign = new Error('KMS down');
    await expect(w.mint()).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('TenantKeys', () => {
  it('signs with the new key after rotation and keeps the old key published until its last token expired', async () => {
    const w = world();
    const before = await w.mint();
    const oldKid = decodeProtectedHeader(before.token).kid!;
    const rot = await w.keys.rotate('acme');
    expect(rot.previous_kid).toBe(oldKid);
    const after = await w.mint();
    expect(decodeProtectedHeader(after.token).kid).toBe(rot.kid);
    expect(rot.kid).not.toBe(oldKid);
    expect((await w.keys.jwks('acme')).keys.map((k) => k.kid)).toEqual([rot.kid, oldKid]);
    // Both still verify (independent verifier and ours).
    await jwtVerify(before.token, createLocalJWKSet(await w.keys.jwks('acme')), {
      algorithms: ['ES256'],
      currentDate: w.clock.now(),
    });
    await w.verifier.verify(before.token, { audience: 'arx' });
    w.clock.advance((3600 + 60 + 60 - 1) * 1000);
    expect((await w.keys.jwks('acme')).keys).toHaveLength(2);
    w.clock.advance(1000);
    expect((await w.keys.jwks('acme')).keys.map((k) => k.kid)).toEqual([rot.kid]);
  });

  it('signs arbitrary bytes as 64-byte R‖S under the kid of the tenant JWKS', async () => {
    const w = world();
    const msg = Buffer.from('audit block header');
    const { kid, signature } = await w.keys.sign('acme', msg);
    const jwk = (await w.keys.jwks('acme')).keys.find((k) => k.kid === kid)!;
    const { verify } = await import('node:crypto');
    expect(signature.length).toBe(64);
    expect(
      verify(
        'sha256',
        msg,
        { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
        signature,
      ),
    ).toBe(true);
  });

  it('gives each tenant its own key', async () => {
    const w = world();
    const a = await w.keys.activeKey('acme');
    const b = await w.keys.activeKey('globex');
    expect(a.kid).not.toBe(b.kid);
    expect(a.key_arn).not.toBe(b.key_arn);
  });
});

describe('SvidVerifier', () => {
  it('accepts a fresh SVID and reports who it names', async () => {
    const w = world();
    const { token } = await w.mint({ scope: ['a', 'b'] });
    const v = await w.verifier.verify(token, { audience: 'arx' });
    expect(v).toMatchObject({
      tenantId: 'acme',
      platform: 'langchain',
      agentId: AGENT_A,
      spiffeId: sub,
      scope: ['a', 'b'],
      generation: 1,
    });
  });

  it('refuses alg none', async () => {
    const w = world();
    const { claims } = await w.mint();
    const kid = (await w.keys.activeKey('acme')).kid;
    const t = `${forge({ alg: 'none', typ: 'JWT', kid }, { ...claims }, () => Buffer.alloc(0))}AA`;
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'unsupported_alg');
  });

  it('refuses HS256 signed with the public key', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const pem = createPublicKey({ key: k.public_jwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
    const t = forge({ alg: 'HS256', typ: 'JWT', kid: k.kid }, { ...claims }, hs256(pem));
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'unsupported_alg');
  });

  it('refuses an RS256 header on the EC key', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge({ alg: 'RS256', typ: 'JWT', kid: k.kid }, { ...claims }, es256(await w.privateKeyOf('acme')));
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'unsupported_alg');
  });

  it('refuses a wrong or missing audience', async () => {
    const w = world();
    const { token } = await w.mint({ audience: 'https://okta.example' });
    await refused(w.verifier.verify(token, { audience: 'arx' }), 'wrong_audience');
    const { claims } = await w.mint();
    const { aud: _aud, ...noAud } = claims;
    const k = await w.keys.activeKey('acme');
    const t = forge({ alg: 'ES256', typ: 'JWT', kid: k.kid }, noAud, es256(await w.privateKeyOf('acme')));
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'wrong_audience');
    await refused(w.verifier.verify(t, { audience: { any: true } }), 'wrong_audience');
  });

  it('refuses multiple audiences even when one matches', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, aud: ['arx', 'other'] },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'wrong_audience');
  });

  it('refuses an expired token beyond the 60 s skew but accepts within it', async () => {
    const w = world();
    const { token, claims } = await w.mint({ ttlS: 300 });
    w.clock.advance((300 + 59) * 1000);
    await w.verifier.verify(token, { audience: 'arx' });
    w.clock.advance(2000);
    await refused(w.verifier.verify(token, { audience: 'arx' }), 'expired');
    expect(claims.exp).toBeGreaterThan(claims.iat);
  });

  it('refuses nbf or iat in the future beyond the skew', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const priv = await w.privateKeyOf('acme');
    const nbf = forge({ alg: 'ES256', typ: 'JWT', kid: k.kid }, { ...claims, nbf: claims.iat + 120 }, es256(priv));
    await refused(w.verifier.verify(nbf, { audience: 'arx' }), 'not_yet_valid');
    const iat = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, iat: claims.iat + 120, nbf: claims.nbf },
      es256(priv),
    );
    await refused(w.verifier.verify(iat, { audience: 'arx' }), 'not_yet_valid');
  });

  it('refuses a lifetime over 60 minutes', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, exp: claims.iat + 7200 },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'invalid_claims');
  });

  it('refuses an unknown kid without a JWKS refetch storm', async () => {
    const w = world();
    const { claims } = await w.mint();
    await w.verifier.verify((await w.mint()).token, { audience: 'arx' });
    const fetchesBefore = w.jwksFetches();
    w.clock.advance(20_000); // past the cooldown: one refetch allowed
    const rogue = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (let i = 0; i < 50; i++) {
      const t = forge({ alg: 'ES256', typ: 'JWT', kid: `unknown-${i}` }, { ...claims }, es256(rogue));
      await refused(w.verifier.verify(t, { audience: 'arx' }), 'unknown_kid');
    }
    expect(w.jwksFetches() - fetchesBefore).toBe(1);
  });

  it('refuses a missing kid', async () => {
    const w = world();
    const { claims } = await w.mint();
    const t = forge({ alg: 'ES256', typ: 'JWT' }, { ...claims }, es256(await w.privateKeyOf('acme')));
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'missing_kid');
  });

  it("refuses a sub of tenant B signed by tenant A's key", async () => {
    const w = world();
    await w.keys.activeKey('globex');
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, sub: `spiffe://globex.arx/langchain/${AGENT_A}`, iss: `${ISSUER_BASE}/tenants/globex` },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'unknown_kid');
  });

  it('refuses an issuer that does not match the subject tenant', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, iss: `${ISSUER_BASE}/tenants/globex` },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'invalid_claims');
  });

  it('refuses 2- and 4-segment tokens and bad base64url', async () => {
    const w = world();
    const { token } = await w.mint();
    const [h, p, s] = token.split('.');
    await refused(w.verifier.verify(`${h}.${p}`, { audience: 'arx' }), 'malformed');
    await refused(w.verifier.verify(`${h}.${p}.${s}.${s}`, { audience: 'arx' }), 'malformed');
    await refused(w.verifier.verify(`${h}.${p}.${s}==`, { audience: 'arx' }), 'malformed');
    await refused(w.verifier.verify(`${h}.${p!.slice(0, -2)}*!.${s}`, { audience: 'arx' }), 'malformed');
    await refused(w.verifier.verify(`${h}..${s}`, { audience: 'arx' }), 'malformed');
  });

  it('refuses an unknown crit header', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid, crit: ['exp-x'], 'exp-x': 1 },
      { ...claims },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'crit_unsupported');
  });

  it('refuses a token over 8 KB before parsing it', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, pad: 'x'.repeat(8 * 1024) },
      es256(await w.privateKeyOf('acme')),
    );
    const fetches = w.jwksFetches();
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'too_large');
    expect(w.jwksFetches()).toBe(fetches);
  });

  it('refuses a tampered payload', async () => {
    const w = world();
    const { token } = await w.mint();
    const [h, , s] = token.split('.');
    const { claims } = await w.mint({ scope: ['everything'] });
    const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
    await refused(w.verifier.verify(`${h}.${p}.${s}`, { audience: 'arx' }), 'invalid_signature');
  });

  it('refuses SVIDs of a revoked agent and fails closed when the list is unreadable', async () => {
    const w = world();
    const { token } = await w.mint();
    w.revoked.add(`acme|${AGENT_A}`);
    await refused(w.verifier.verify(token, { audience: 'arx' }), 'revoked');
  });

  it('refuses SVIDs of an older credential generation after rotation', async () => {
    const w = world();
    const { token } = await w.mint({ generation: 1 });
    w.states.set(`acme|${AGENT_A}`, { generation: 2, status: 'active' });
    await refused(w.verifier.verify(token, { audience: 'arx' }), 'stale_generation');
    const fresh = await w.mint({ generation: 2 });
    await w.verifier.verify(fresh.token, { audience: 'arx' });
    w.states.set(`acme|${AGENT_A}`, { generation: 2, status: 'suspended' });
    await refused(w.verifier.verify(fresh.token, { audience: 'arx' }), 'inactive');
  });

  it('refuses a sub that is not an ARX SPIFFE id', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const t = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, sub: 'spiffe://acme.example/x/y' },
      es256(await w.privateKeyOf('acme')),
    );
    await refused(w.verifier.verify(t, { audience: 'arx' }), 'bad_subject');
  });

  it('refuses non-numeric dates and a token older than 60 minutes even if exp says otherwise', async () => {
    const w = world();
    const { claims } = await w.mint();
    const k = await w.keys.activeKey('acme');
    const priv = await w.privateKeyOf('acme');
    const strExp = forge({ alg: 'ES256', typ: 'JWT', kid: k.kid }, { ...claims, exp: String(claims.exp) }, es256(priv));
    await refused(w.verifier.verify(strExp, { audience: 'arx' }), 'invalid_claims');
    const old = forge(
      { alg: 'ES256', typ: 'JWT', kid: k.kid },
      { ...claims, iat: claims.iat - 3700, nbf: claims.iat - 3700 },
      es256(priv),
    );
    await refused(w.verifier.verify(old, { audience: 'arx' }), 'expired');
  });

  it('refuses any single-character change anywhere in the token (property)', async () => {
    const w = world();
    const { token } = await w.mint({ scope: ['a'] });
    await w.verifier.verify(token, { audience: 'arx' });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet), async (i, c) => {
        fc.pre(token[i] !== c);
        const t = token.slice(0, i) + c + token.slice(i + 1);
        const r = await w.verifier.verify(t, { audience: 'arx' }).then(
          () => 'accepted',
          (e: unknown) => (e instanceof SvidError ? 'refused' : 'crashed'),
        );
        return r === 'refused';
      }),
      { numRuns: 300 },
    );
  });
});
