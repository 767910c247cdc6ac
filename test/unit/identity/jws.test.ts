import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { derToJose, kidOf, SignatureFormatError, spkiToJwk } from '../../../lambdas/identity/core/jws.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function der(r: number[], s: number[]): Uint8Array {
  const int = (b: number[]) => [0x02, b.length, ...b];
  const body = [...int(r), ...int(s)];
  return Uint8Array.from([0x30, body.length, ...body]);
}

describe('derToJose', () => {
  it('turns KMS-style DER signatures into R‖S that an independent verifier accepts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (msg) => {
        const sig = nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'der' });
        const raw = derToJose(sig);
        expect(raw.length).toBe(64);
        return nodeVerify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw);
      }),
      { numRuns: 200 },
    );
  });

  it('left-pads short integers and strips the DER sign byte', () => {
    const r = [0x00, 0x80, ...new Array(31).fill(1)]; // 33 bytes with sign padding
    const s = [0x05]; // one byte
    const out = derToJose(der(r, s));
    expect(Buffer.from(out.subarray(0, 32))).toEqual(Buffer.from([0x80, ...new Array(31).fill(1)]));
    expect(Buffer.from(out.subarray(32))).toEqual(Buffer.from([...new Array(31).fill(0), 5]));
  });

  it('refuses truncated, trailing, negative and oversized input', () => {
    const good = der([1], [2]);
    expect(() => derToJose(good.subarray(0, good.length - 1))).toThrow(SignatureFormatError);
    expect(() => derToJose(Uint8Array.from([...good, 0]))).toThrow(SignatureFormatError);
    expect(() => derToJose(der([0x80], [1]))).toThrow(SignatureFormatError);
    expect(() => derToJose(der(new Array(33).fill(1), [1]))).toThrow(SignatureFormatError);
    expect(() => derToJose(Uint8Array.from([0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]))).toThrow(SignatureFormatError);
  });
});

describe('kidOf', () => {
  it('is the RFC 7638 thumbprint jose computes for the same public key', async () => {
    const jwk = spkiToJwk(publicKey.export({ format: 'der', type: 'spki' }));
    expect(await kidOf(jwk)).toBe(await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256'));
  });

  it('refuses non-P-256 keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(() => spkiToJwk(rsa.export({ format: 'der', type: 'spki' }))).toThrow(SignatureFormatError);
  });
});
