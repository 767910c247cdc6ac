import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { encodeBundle, type BundleSignature, type SignedBundle } from '../../../lambdas/policy/core/bundle.js';
import type { BundleSigner } from '../../../lambdas/policy/core/signing.js';
import type { BundleSource } from '../../../lambdas/policy/core/decision-point.js';
import { ACCESS_REVIEW_POLICY } from '../../support/fixtures.js';

/** A P-256 signer with a local key (unit tests only; production signs with KMS). */
export class LocalSigner implements BundleSigner {
  readonly kid: string;
  private readonly priv: KeyObject;
  readonly pub: KeyObject;
  constructor(kid = 'local-key') {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.kid = kid;
    this.priv = kp.privateKey;
    this.pub = kp.publicKey;
  }
  async sign(_t: string, digest: string): Promise<BundleSignature> {
    return {
      kid: this.kid,
      alg: 'ES256',
      sig: cryptoSign('sha256', Buffer.from(digest), this.priv).toString('base64'),
    };
  }
  async verify(_t: string, digest: string, s: BundleSignature): Promise<boolean> {
    if (s.kid !== this.kid) return false;
    try {
      return cryptoVerify('sha256', Buffer.from(digest), this.pub, Buffer.from(s.sig, 'base64'));
    } catch {
      return false;
    }
  }
}

/** A live-bundle source in memory with ETags, counting fetches. */
export class MemorySource implements BundleSource {
  private bundles = new Map<string, { etag: string; bundle: string }>();
  fetches = 0;
  failing = false;
  private n = 0;
  /** Stores the bundle as its stored text (objects are encoded as S3 would hold them). */
  set(tenantId: string, bundle: SignedBundle | string): void {
    this.bundles.set(tenantId, {
      etag: `"e${++this.n}"`,
      bundle: typeof bundle === 'string' ? bundle : encodeBundle(bundle),
    });
  }
  async fetchLive(tenantId: string, etag: string | null) {
    this.fetches++;
    if (this.failing) throw new Error('source unreachable');
    const b = this.bundles.get(tenantId);
    if (!b) return { status: 'none' as const };
    if (b.etag === etag) return { status: 'not-modified' as const };
    return { status: 'ok' as const, etag: b.etag, bundle: b.bundle };
  }
}

/** The brief's Okta access-review policy (test/fixtures/policies/okta-access-review.yaml). */
export const OKTA_YAML = ACCESS_REVIEW_POLICY;

/** A principal-status port for tests whose subject is not the inventory check: every principal is active. */
export const EVERYONE_ACTIVE = { status: async () => ({ ok: true as const }) };
