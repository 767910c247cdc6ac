import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { SvidVerifier } from '../../../lambdas/identity/core/verify.js';
import { AGENT_A, es256, forge, ISSUER_BASE, world } from './helpers.js';

/** A token naming `tenant` in its sub, signed by a key no tenant publishes (it must never verify). */
function tokenFor(tenant: string): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Math.floor(Date.parse('2026-03-01T12:00:00Z') / 1000);
  return forge(
    { alg: 'ES256', typ: 'JWT', kid: 'k1' },
    {
      iss: `${ISSUER_BASE}/tenants/${tenant}`,
      sub: `spiffe://${tenant}.arx/custom/${AGENT_A}`,
      aud: 'arx',
      iat: now,
      nbf: now,
      exp: now + 300,
      jti: 'j',
      owner_sub: 'o',
      gen: 1,
    },
    es256(privateKey),
  );
}

function counting(opts: { max?: number; negativeTtlMs?: number } = {}) {
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const reads: string[] = [];
  const verifier = new SvidVerifier({
    issuerBase: ISSUER_BASE,
    clock,
    fetchJwks: async (t) => {
      reads.push(t);
      return null; // no such tenant
    },
    ...(opts.max ? { jwksMaxTenants: opts.max } : {}),
    ...(opts.negativeTtlMs ? { jwksNegativeTtlMs: opts.negativeTtlMs } : {}),
  });
  return { clock, reads, verifier };
}

describe('SvidVerifier tenant key cache (F29)', () => {
  it('F29: keeps at most jwksMaxTenants tenants however many tenant ids tokens name (bounded LRU)', async () => {
    const { verifier } = counting({ max: 50 });
    for (let i = 0; i < 500; i++) {
      await expect(verifier.verify(tokenFor(`t${i}`), { audience: 'arx' })).rejects.toMatchObject({
        reason: 'unknown_kid',
      });
    }
    expect(verifier.cachedTenants()).toBe(50);
  });

  it('F29: an unknown tenant is read once per negative TTL, not once per token', async () => {
    const { verifier, reads, clock } = counting({ negativeTtlMs: 60_000 });
    for (let i = 0; i < 100; i++) await verifier.verify(tokenFor('ghost'), { audience: 'arx' }).catch(() => undefined);
    expect(reads).toEqual(['ghost']);
    clock.advance(59_000);
    await verifier.verify(tokenFor('ghost'), { audience: 'arx' }).catch(() => undefined);
    expect(reads).toHaveLength(1);
    clock.advance(1_000);
    await verifier.verify(tokenFor('ghost'), { audience: 'arx' }).catch(() => undefined);
    expect(reads).toHaveLength(2);
  });

  it('F29: recently used tenants survive eviction; a real tenant still verifies under a flood of junk tenant ids', async () => {
    const w = world();
    const good = await w.mint();
    const v = new SvidVerifier({
      issuerBase: ISSUER_BASE,
      clock: w.clock,
      fetchJwks: async (t) => (t === 'acme' ? w.keys.jwks(t) : null),
      jwksMaxTenants: 10,
    });
    expect((await v.verify(good.token, { audience: 'arx' })).tenantId).toBe('acme');
    for (let i = 0; i < 100; i++) {
      await v.verify(tokenFor(`junk${i}`), { audience: 'arx' }).catch(() => undefined);
      if (i % 5 === 0) expect((await v.verify(good.token, { audience: 'arx' })).tenantId).toBe('acme');
    }
    expect(v.cachedTenants()).toBeLessThanOrEqual(10);
  });
});
