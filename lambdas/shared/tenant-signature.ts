/**
 * Verification of tenant signatures (the TenantSigner port's output) with the tenant's public
 * keys: ES256, JOSE R‖S, the key looked up by kid among that tenant's keys only.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { PublicJwk } from './ports.js';

/** Size of a P-256 JOSE signature (R‖S, 32 bytes each). */
export const ES256_SIGNATURE_BYTES = 64;

/**
 * True iff `signature` (64-byte R‖S) is a valid ES256 signature over `message` by the key `kid`
 * of `keys`. False for an unknown kid, a wrong length or a bad signature; never throws on input.
 * Preconditions: `keys` are the signing tenant's keys (TenantKeySet.publicKeys of that tenant),
 * so a signature by another tenant's key cannot verify. The caller must still check what the
 * message says (tenant, digest) matches what it expects.
 *
 * @example
 * const ok = verifyTenantSignature(await keys.publicKeys(tenantId), sig.kid, bytes, sig.signature);
 */
export function verifyTenantSignature(
  keys: readonly PublicJwk[],
  kid: string,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const jwk = keys.find((k) => k.kid === kid);
  if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || signature.byteLength !== ES256_SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
    return cryptoVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
