import { sha256Hex } from '../../shared/ids.js';
import { BUNDLE_ENVELOPE, BUNDLE_FORMAT, encodeBundle, splitBundle, type BundleContent, type BundleSignature, type SignedBundle } from './bundle.js';

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
 * Checks a fetched bundle before it may go live: envelope, digest over the exact content bytes,
 * the signature over the digest, then the content's format and tenant. Accepts the stored text
 * (or a decoded bundle, which is re-encoded). Preconditions: none. The caller must still keep the
 * last-known-good bundle when this fails.
 */
export async function verifyBundle(raw: string | SignedBundle, tenantId: string, signer: Pick<BundleSigner, 'verify'>): Promise<VerifyOutcome> {
  let header: { format?: unknown; digest?: unknown; signature?: unknown };
  let contentText: string;
  try {
    ({ header, contentText } = splitBundle(typeof raw === 'string' ? raw : encodeBundle(raw)));
  } catch {
    return { ok: false, reason: 'bundle is malformed' };
  }
  if (header.format !== BUNDLE_ENVELOPE) return { ok: false, reason: 'unknown bundle format' };
  const sig = header.signature as Partial<BundleSignature> | undefined;
  if (!sig || typeof sig !== 'object' || typeof sig.sig !== 'string' || typeof sig.kid !== 'string' || sig.alg !== 'ES256') {
    return { ok: false, reason: 'bundle is not signed' };
  }
  const digest = `sha256:${sha256Hex(contentText)}`;
  if (digest !== header.digest) return { ok: false, reason: 'bundle digest does not match its content' };
  let good = false;
  try {
    good = await signer.verify(tenantId, digest, sig as BundleSignature);
  } catch (e) {
    return { ok: false, reason: `signature could not be checked: ${(e as Error).message}` };
  }
  if (!good) return { ok: false, reason: 'bundle signature is invalid' };
  let c: Partial<BundleContent>;
  try {
    c = JSON.parse(contentText) as Partial<BundleContent>;
  } catch {
    return { ok: false, reason: 'bundle is malformed' };
  }
  if (c.format_version !== BUNDLE_FORMAT) return { ok: false, reason: 'unknown bundle format' };
  if (c.tenant_id !== tenantId) return { ok: false, reason: 'bundle belongs to another tenant' };
  if (!Array.isArray(c.policies) || !Array.isArray(c.entities) || typeof c.schema !== 'string' || !Array.isArray(c.risk) || !c.revoked_bloom) {
    return { ok: false, reason: 'bundle is malformed' };
  }
  return { ok: true, bundle: { ...(c as BundleContent), digest, signature: sig as BundleSignature } };
}
