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
    expect(() => derToJose(Uint8Array.from([0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]))).toThrow(
      SignatureFormatError,
    );
  });
});

/** Malformed DER ECDSA-Sig-Values the one converter refuses (the lax audit copy accepted several). */
const seq = (body: number[]): number[] => [0x30, body.length, ...body];
const one = [0x02, 0x01, 0x01];
const MALFORMED: [string, number[]][] = [
  ['empty input', []],
  ['a SET instead of a SEQUENCE', [0x31, 0x06, ...one, ...one]],
  ['indefinite length', [0x30, 0x80, ...one, ...one, 0x00, 0x00]],
  ['long-form length with unread length octets', [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, ...one, ...one]],
  ['non-minimal long-form sequence length', [0x30, 0x81, 0x06, ...one, ...one]],
  ['non-minimal two-octet length', [0x30, 0x82, 0x00, 0x06, ...one, ...one]],
  ['sequence length past the input', [0x30, 0x07, ...one, ...one]],
  ['sequence length short of the input', [0x30, 0x05, ...one, ...one]],
  ['a trailing byte after the sequence', [...seq([...one, ...one]), 0x00]],
  ['a third INTEGER inside the sequence', seq([...one, ...one, ...one])],
  ['only one INTEGER', seq([...one])],
  ['an OCTET STRING where r belongs', seq([0x04, 0x01, 0x01, ...one])],
  ['a zero-length INTEGER', seq([0x02, 0x00, ...one])],
  ['an INTEGER running past the sequence', [0x30, 0x06, 0x02, 0x09, 0x01, 0x02, 0x01, 0x01]],
  ['negative r (high bit set)', seq([0x02, 0x01, 0x80, ...one])],
  ['negative s (high bit set)', seq([...one, 0x02, 0x02, 0xff, 0x01])],
  ['r wider than 32 bytes', seq([0x02, 0x21, ...new Array(33).fill(0x11), ...one])],
  ['r of 33 bytes after its sign octet', seq([0x02, 0x22, 0x00, ...new Array(33).fill(0x81), ...one])],
  ['a redundant leading zero (non-minimal INTEGER)', seq([0x02, 0x02, 0x00, 0x01, ...one])],
  ['r = 0', seq([0x02, 0x01, 0x00, ...one])],
  ['s = 0', seq([...one, 0x02, 0x01, 0x00])],
];

describe('derToJose refuses malformed DER', () => {
  it.each(MALFORMED)('throws SignatureFormatError for %s', (_name, bytes) => {
    expect(() => derToJose(Uint8Array.from(bytes))).toThrow(SignatureFormatError);
  });

  it('still accepts the same shapes when they are well formed', () => {
    expect(Buffer.from(derToJose(Uint8Array.from(seq([...one, ...one])))).toString('hex')).toBe(
      `${'00'.repeat(31)}01${'00'.repeat(31)}01`,
    );
    const r = [0x00, ...new Array(32).fill(0x81)]; // sign octet before a high-bit 32-byte integer
    expect(derToJose(Uint8Array.from(seq([0x02, 0x21, ...r, ...one])))).toHaveLength(64);
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
