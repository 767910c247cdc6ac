import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { kmsClient } from '../../shared/aws.js';
import type { BundleSignature } from '../core/bundle.js';
import type { BundleSigner } from '../core/signing.js';

/** Resolves the tenant's signing key. Until the identity key registry exists: one key (ARX_SIGNING_KEY_ARN). */
export type TenantKeyResolver = (tenantId: string) => Promise<string> | string;

/**
 * Signs bundle digests with the tenant's KMS key (ECC_NIST_P256, ECDSA_SHA_256, MessageType RAW
 * over the UTF-8 digest string) and verifies locally with the public key (fetched once, cached).
 * A signature by any key other than the tenant's is refused.
 */
export class KmsBundleSigner implements BundleSigner {
  private readonly keys = new Map<string, Promise<KeyObject>>();
  constructor(
    private readonly keyFor: TenantKeyResolver,
    private readonly client: KMSClient = kmsClient(),
  ) {}

  async sign(tenantId: string, digest: string): Promise<BundleSignature> {
    const keyId = await this.keyFor(tenantId);
    const r = await this.client.send(
      new SignCommand({ KeyId: keyId, Message: Buffer.from(digest, 'utf8'), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    if (!r.Signature) throw new Error('KMS returned no signature');
    return { kid: keyId, alg: 'ES256', sig: Buffer.from(r.Signature).toString('base64') };
  }

  async verify(tenantId: string, digest: string, signature: BundleSignature): Promise<boolean> {
    const keyId = await this.keyFor(tenantId);
    if (signature.kid !== keyId) return false;
    const key = await this.publicKey(keyId);
    try {
      return cryptoVerify('sha256', Buffer.from(digest, 'utf8'), key, Buffer.from(signature.sig, 'base64'));
    } catch {
      return false;
    }
  }

  private publicKey(keyId: string): Promise<KeyObject> {
    let p = this.keys.get(keyId);
    if (!p) {
      p = this.client.send(new GetPublicKeyCommand({ KeyId: keyId })).then((r) => {
        if (!r.PublicKey) throw new Error('KMS returned no public key');
        return createPublicKey({ key: Buffer.from(r.PublicKey), format: 'der', type: 'spki' });
      });
      p.catch(() => this.keys.delete(keyId));
      this.keys.set(keyId, p);
    }
    return p;
  }
}

/** Verification only, from a PEM/DER public key (offline enforcement points). */
export class PublicKeyVerifier implements Pick<BundleSigner, 'verify'> {
  constructor(private readonly kid: string, private readonly key: KeyObject) {}
  async verify(_tenantId: string, digest: string, signature: BundleSignature): Promise<boolean> {
    if (signature.kid !== this.kid) return false;
    try {
      return cryptoVerify('sha256', Buffer.from(digest, 'utf8'), this.key, Buffer.from(signature.sig, 'base64'));
    } catch {
      return false;
    }
  }
}
