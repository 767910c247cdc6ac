import { sha256Hex } from '../../shared/ids.js';
import type { TenantKeySet, TenantSigner } from '../../shared/ports.js';
import { verifyTenantSignature } from '../../shared/tenant-signature.js';
import {
  BUNDLE_ENVELOPE,
  BUNDLE_FORMAT,
  encodeBundle,
  splitBundle,
  type BundleContent,
  type BundleSignature,
  type SignedBundle,
} from './bundle.js';

/**
 * Port: signs and verifies bundle digests with the tenant's key. Production is TenantBundleSigner
 * over the tenant signer (each tenant's bundles signed with that tenant's own key).
 */
export interface BundleSigner {
  sign(tenantId: string, digest: string): Promise<BundleSignature>;
  /** False for a wrong, malformed or unknown-key signature; throws only when the key cannot be fetched. */
  verify(tenantId: string, digest: string, signature: BundleSignature): Promise<boolean>;
}

/**
 * Bundles signed through the TenantSigner port: ES256 over the UTF-8 digest string with the
 * tenant's own key; `kid` = the key's RFC 7638 thumbprint, `sig` = base64url R‖S. Verification
 * looks the kid up among the bundle tenant's public keys only, so a bundle signed with another
 * tenant's key is refused. Verify-only callers (PDPs) pass just a TenantKeySet.
 *
 * @example
 * const signer = new TenantBundleSigner(tenantSigner());
 * const sig = await signer.sign('acme', digest);
 * await signer.verify('acme', digest, sig); // true; false for any other tenant
 */
export class TenantBundleSigner implements BundleSigner {
  constructor(private readonly keys: TenantKeySet & Partial<Pick<TenantSigner, 'sign'>>) {}

  async sign(tenantId: string, digest: string): Promise<BundleSignature> {
    if (!this.keys.sign) throw new TypeError('TenantBundleSigner was built for verification only');
    const s = await this.keys.sign(tenantId, Buffer.from(digest, 'utf8'));
    return { kid: s.kid, alg: 'ES256', sig: Buffer.from(s.signature).toString('base64url') };
  }

  async verify(tenantId: string, digest: string, signature: BundleSignature): Promise<boolean> {
    if (signature.alg !== 'ES256' || typeof signature.sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(signature.sig))
      return false;
    const keys = await this.keys.publicKeys(tenantId);
    return verifyTenantSignature(
      keys,
      signature.kid,
      Buffer.from(digest, 'utf8'),
      Buffer.from(signature.sig, 'base64url'),
    );
  }
}

export type VerifyOutcome =
  | { readonly ok: true; readonly bundle: SignedBundle }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a fetched bundle before it may go live: envelope, digest over the exact content bytes,
 * the signature over the digest, then the content's format and tenant. Accepts the stored text
 * (or a decoded bundle, which is re-encoded). Preconditions: none. The caller must still keep the
 * last-known-good bundle when this fails.
 */
export async function verifyBundle(
  raw: string | SignedBundle,
  tenantId: string,
  signer: Pick<BundleSigner, 'verify'>,
): Promise<VerifyOutcome> {
  let header: { format?: unknown; digest?: unknown; signature?: unknown };
  let contentText: string;
  try {
    ({ header, contentText } = splitBundle(typeof raw === 'string' ? raw : encodeBundle(raw)));
  } catch {
    return { ok: false, reason: 'bundle is malformed' };
  }
  if (header.format !== BUNDLE_ENVELOPE) return { ok: false, reason: 'unknown bundle format' };
  const sig = header.signature as Partial<BundleSignature> | undefined;
  if (
    !sig ||
    typeof sig !== 'object' ||
    typeof sig.sig !== 'string' ||
    typeof sig.kid !== 'string' ||
    sig.alg !== 'ES256'
  ) {
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
  if (
    !Array.isArray(c.policies) ||
    !Array.isArray(c.entities) ||
    typeof c.schema !== 'string' ||
    !Array.isArray(c.risk) ||
    !c.revoked_bloom
  ) {
    return { ok: false, reason: 'bundle is malformed' };
  }
  return { ok: true, bundle: { ...(c as BundleContent), digest, signature: sig as BundleSignature } };
}
