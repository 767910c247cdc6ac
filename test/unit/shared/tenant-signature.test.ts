import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PublicJwk, TenantSigner } from '../../../lambdas/shared/ports.js';
import { verifyTenantSignature } from '../../../lambdas/shared/tenant-signature.js';
import { TenantBundleSigner } from '../../../lambdas/policy/core/signing.js';

const keyPair = (kid: string): { jwk: PublicJwk; priv: KeyObject } => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' });
  return { jwk: { kty: 'EC', crv: 'P-256', x: j.x!, y: j.y!, kid, alg: 'ES256', use: 'sig' }, priv: privateKey };
};
const es256 = (priv: KeyObject, msg: Uint8Array) => nodeSign('sha256', msg, { key: priv, dsaEncoding: 'ieee-p1363' });

/** A TenantSigner over local keys, one per tenant (unit tests only; production signs with KMS). */
function localTenantSigner(): TenantSigner {
  const keys = new Map<string, ReturnType<typeof keyPair>>();
  const of = (t: string) => {
    if (!keys.has(t)) keys.set(t, keyPair(`kid-${t}`));
    return keys.get(t)!;
  };
  return {
    activeKid: async (t) => of(t).jwk.kid,
    sign: async (t, m) => ({ kid: of(t).jwk.kid, alg: 'ES256', signature: es256(of(t).priv, m) }),
    publicKeys: async (t) => (keys.has(t) ? [of(t).jwk] : []),
  };
}

describe('verifyTenantSignature', () => {
  const a = keyPair('kid-a');
  const msg = new TextEncoder().encode('sha256:abc');

  it('accepts an ES256 R‖S signature by the key its kid names', () => {
    expect(verifyTenantSignature([a.jwk], 'kid-a', msg, es256(a.priv, msg))).toBe(true);
  });

  it("refuses an unknown kid, another tenant's key under the same kid, a DER signature and a wrong length", () => {
    const b = keyPair('kid-a');
    const sig = es256(a.priv, msg);
    expect(verifyTenantSignature([a.jwk], 'kid-x', msg, sig)).toBe(false);
    expect(verifyTenantSignature([b.jwk], 'kid-a', msg, sig)).toBe(false);
    expect(
      verifyTenantSignature([a.jwk], 'kid-a', msg, nodeSign('sha256', msg, { key: a.priv, dsaEncoding: 'der' })),
    ).toBe(false);
    expect(verifyTenantSignature([a.jwk], 'kid-a', msg, Buffer.concat([sig, Buffer.from([0])]))).toBe(false);
    expect(verifyTenantSignature([], 'kid-a', msg, sig)).toBe(false);
  });

  it('any single-byte change of the signature or the message breaks verification', () => {
    const sig = es256(a.priv, msg);
    fc.assert(
      fc.property(fc.nat({ max: 63 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (i, x, inSig) => {
        const s = Buffer.from(sig);
        const m = Buffer.from(msg);
        if (inSig) s[i] ^= x;
        else m[i % m.length] ^= x;
        return !verifyTenantSignature([a.jwk], 'kid-a', m, s);
      }),
      { numRuns: 200 },
    );
  });
});

describe('TenantBundleSigner', () => {
  const digest = `sha256:${'ab'.repeat(32)}`;

  it("verifies a tenant's bundle signature with that tenant's keys and no other tenant's", async () => {
    const signer = new TenantBundleSigner(localTenantSigner());
    const sig = await signer.sign('acme', digest);
    await signer.sign('globex', digest);

    expect(sig).toMatchObject({ kid: 'kid-acme', alg: 'ES256', sig: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/) });
    expect(await signer.verify('acme', digest, sig)).toBe(true);
    expect(await signer.verify('globex', digest, sig)).toBe(false);
    expect(await signer.verify('acme', `${digest}0`, sig)).toBe(false);
    expect(await signer.verify('acme', digest, { ...sig, sig: `${sig.sig}==` })).toBe(false);
  });

  it('verifies with a key set alone and refuses to sign without a signer', async () => {
    const keys = localTenantSigner();
    const sig = await new TenantBundleSigner(keys).sign('acme', digest);
    const verifyOnly = new TenantBundleSigner({ publicKeys: (t) => keys.publicKeys(t) });

    expect(await verifyOnly.verify('acme', digest, sig)).toBe(true);
    await expect(verifyOnly.sign('acme', digest)).rejects.toBeInstanceOf(TypeError);
  });
});
