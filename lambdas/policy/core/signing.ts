import { contentOf, digestOf, BUNDLE_FORMAT, type BundleSignature, type SignedBundle } from './bundle.js';

/**
 * Port: signs and verifies bundle digests with the tenant's key. The KMS adapter signs with
 * ECDSA_SHA_256 (MessageType RAW over the digest string) and verifies locally with the public key.
 * Swapping to the identity capability's key registry is one constructor call.
 */
export interface BundleSigner {
  sign(tenantId: string, digest: string): Promise<BundleSignature>;
  /** False for a wrong, malformed or unknown-key signature; throws only when the key cannot be fetched. */
  verify(tenantId: string, digest: string, signature: BundleSignature): Promise<boolean>;
}

export type VerifyOutcome = { readonly ok: true; readonly bundle: SignedBundle } | { readonly ok: false; readonly reason: string };

/**
 * Checks a fetched bundle before it may go live: shape, tenant, digest over the content, and the
 * signature over the digest. Preconditions: none (any JSON value). The caller must still keep the
 * last-known-good bundle when this fails.
 */
export async function verifyBundle(raw: unknown, tenantId: string, signer: Pick<BundleSigner, 'verify'>): Promise<VerifyOutcome> {
  if (!raw || typeof raw !== 'object') return { ok: false, reason: 'bundle is not an object' };
  const b = raw as Partial<SignedBundle>;
  if (b.format_version !== BUNDLE_FORMAT) return { ok: false, reason: 'unknown bundle format' };
  if (b.tenant_id !== tenantId) return { ok: false, reason: 'bundle belongs to another tenant' };
  if (!Array.isArray(b.policies) || !Array.isArray(b.entities) || typeof b.schema !== 'string' || !Array.isArray(b.risk) || !b.revoked_bloom) {
    return { ok: false, reason: 'bundle is malformed' };
  }
  const sig = b.signature;
  if (!sig || typeof sig !== 'object' || typeof sig.sig !== 'string' || typeof sig.kid !== 'string' || sig.alg !== 'ES256') {
    return { ok: false, reason: 'bundle is not signed' };
  }
  const digest = digestOf(contentOf(b as SignedBundle));
  if (digest !== b.digest) return { ok: false, reason: 'bundle digest does not match its content' };
  let good = false;
  try {
    good = await signer.verify(tenantId, digest, sig);
  } catch (e) {
    return { ok: false, reason: `signature could not be checked: ${(e as Error).message}` };
  }
  return good ? { ok: true, bundle: b as SignedBundle } : { ok: false, reason: 'bundle signature is invalid' };
}
