import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  GetPublicKeyCommand,
  ListResourceTagsCommand,
  SignCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { kmsClient } from '../../shared/aws.js';
import type { KeyManager } from '../core/keys.js';

/** Tag every tenant signing key carries (lib/identity.ts TENANT_TAG). */
export const TENANT_TAG = 'arx:tenant';
export const signingAlias = (tenantId: string): string => `alias/arx/${tenantId}/signing`;

const isNotFound = (e: unknown): boolean => (e as { name?: string }).name === 'NotFoundException';

/** Tag naming what a key set is for, when it is not the tenant signing key (e.g. `audit`). */
export const PURPOSE_TAG = 'arx:purpose';

export interface KmsKeyManagerOptions {
  /** The tenant's alias for this key set. @default signingAlias (`alias/arx/<tenant>/signing`) */
  readonly alias?: (tenantId: string) => string;
  /** Tagged `arx:purpose=<purpose>` on created keys (the audit key set: `audit`). @default none */
  readonly purpose?: string;
  /** Description of created keys. @default the signing key's */
  readonly description?: (tenantId: string) => string;
}

/**
 * KMS tenant keys: the one KMS adapter of the tenant signer, for the signing keys and (with
 * `alias`/`purpose`) the audit key set. Signs with ECDSA_SHA_256 over the RAW message (KMS hashes
 * it; moto mishandles DIGEST) and returns KMS's DER signature — the core converts it to R‖S.
 */
export class KmsKeyManager implements KeyManager {
  private readonly alias: (tenantId: string) => string;
  constructor(
    /** The initial tenant's key (ARX_SIGNING_KEY_ARN); used for the tenant its `arx:tenant` tag names. */
    private readonly initialKeyArn: string | undefined,
    private readonly client: KMSClient = kmsClient(),
    private readonly opts: KmsKeyManagerOptions = {},
  ) {
    this.alias = opts.alias ?? signingAlias;
  }

  async findProvisionedKey(tenantId: string): Promise<string | null> {
    try {
      const r = await this.client.send(new DescribeKeyCommand({ KeyId: this.alias(tenantId) }));
      const m = r.KeyMetadata;
      if (m?.Arn && m.KeyState === 'Enabled' && m.KeySpec === 'ECC_NIST_P256' && m.KeyUsage === 'SIGN_VERIFY')
        return m.Arn;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (this.initialKeyArn) {
      const tags = await this.client.send(new ListResourceTagsCommand({ KeyId: this.initialKeyArn }));
      if ((tags.Tags ?? []).some((t) => t.TagKey === TENANT_TAG && t.TagValue === tenantId)) return this.initialKeyArn;
    }
    return null;
  }

  async createKey(tenantId: string): Promise<string> {
    const r = await this.client.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description:
          this.opts.description?.(tenantId) ??
          `ARX signing key of tenant ${tenantId} (JWT-SVIDs, policy bundles, attestations)`,
        Tags: [
          { TagKey: TENANT_TAG, TagValue: tenantId },
          ...(this.opts.purpose ? [{ TagKey: PURPOSE_TAG, TagValue: this.opts.purpose }] : []),
        ],
      }),
    );
    if (!r.KeyMetadata?.Arn) throw new Error('KMS CreateKey returned no ARN');
    return r.KeyMetadata.Arn;
  }

  async pointAlias(tenantId: string, keyArn: string): Promise<void> {
    const keyId = keyArn.split('/').pop()!;
    try {
      await this.client.send(new UpdateAliasCommand({ AliasName: this.alias(tenantId), TargetKeyId: keyId }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.client.send(new CreateAliasCommand({ AliasName: this.alias(tenantId), TargetKeyId: keyId }));
    }
  }

  async getPublicKey(keyArn: string): Promise<Uint8Array> {
    const r = await this.client.send(new GetPublicKeyCommand({ KeyId: keyArn }));
    if (!r.PublicKey) throw new Error('KMS GetPublicKey returned no key');
    return r.PublicKey;
  }

  async sign(keyArn: string, message: Uint8Array): Promise<Uint8Array> {
    const r = await this.client.send(
      new SignCommand({ KeyId: keyArn, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    if (!r.Signature) throw new Error('KMS Sign returned no signature');
    return r.Signature;
  }
}
