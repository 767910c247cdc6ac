/**
 * JWS helpers shared by the issuer and the verifier: base64url, the DER → JOSE (R‖S) conversion
 * KMS signatures need, and the RFC 7638 key id.
 */
import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export class SignatureFormatError extends Error {
  override readonly name = 'SignatureFormatError';
}

export const b64u = (data: Uint8Array | string): string =>
  (typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  ).toString('base64url');

/** Strict base64url (no padding, no other characters). */
export const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Converts a DER `ECDSA-Sig-Value` (SEQUENCE { INTEGER r, INTEGER s }), as KMS returns it, into the
 * fixed-size JWS form R‖S (RFC 7518 §3.4): each integer unsigned, big-endian, left-padded to
 * `size` bytes (32 for P-256).
 *
 * Preconditions: `der` is one complete DER sequence (definite, minimal lengths) with two positive,
 * minimally encoded INTEGERs no wider than `size` bytes and nothing after it. Anything else —
 * truncation, trailing bytes, a wrong tag or length, a negative (high-bit) or zero integer, a
 * redundant leading zero — throws SignatureFormatError; the caller must not emit a signature then.
 * This is the only DER → JOSE conversion in ARX (the tenant signer uses it for every signature).
 */
export function derToJose(der: Uint8Array, size = 32): Uint8Array {
  let i = 0;
  const byte = (): number => {
    if (i >= der.length) throw new SignatureFormatError('truncated DER signature');
    return der[i++]!;
  };
  const length = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n === 0 || n > 2) throw new SignatureFormatError('unsupported DER length');
    let len = 0;
    for (let k = 0; k < n; k++) len = (len << 8) | byte();
    if (len < 0x80 || (n === 2 && len < 0x100)) throw new SignatureFormatError('non-minimal DER length');
    return len;
  };
  if (byte() !== 0x30) throw new SignatureFormatError('DER signature is not a SEQUENCE');
  const seqLen = length();
  if (i + seqLen !== der.length) throw new SignatureFormatError('DER sequence length mismatch');
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    if (byte() !== 0x02) throw new SignatureFormatError('DER signature element is not an INTEGER');
    const len = length();
    if (len === 0 || i + len > der.length) throw new SignatureFormatError('bad INTEGER length');
    let int = der.subarray(i, i + len);
    i += len;
    if (int[0]! & 0x80) throw new SignatureFormatError('negative INTEGER in signature');
    if (int.length > 1 && int[0] === 0 && !(int[1]! & 0x80))
      throw new SignatureFormatError('non-minimal INTEGER in signature');
    if (int.length > 1 && int[0] === 0) int = int.subarray(1);
    if (int.length === 1 && int[0] === 0) throw new SignatureFormatError('zero INTEGER in signature');
    if (int.length > size) throw new SignatureFormatError('INTEGER wider than the curve size');
    out.set(int, part * size + (size - int.length));
  }
  if (i !== der.length) throw new SignatureFormatError('trailing bytes after DER signature');
  return out;
}

/** The public P-256 key of a SPKI DER (as KMS GetPublicKey returns it) as a minimal JWK. */
export function spkiToJwk(spki: Uint8Array): JWK {
  const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256')
    throw new SignatureFormatError(`signing key must be EC P-256, got ${jwk.kty}/${jwk.crv}`);
  return { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the `kid` of every ARX tenant key. */
export async function kidOf(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! }, 'sha256');
}
