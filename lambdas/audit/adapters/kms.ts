import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { kmsClient } from '../../shared/aws.js';
import type { EncryptedPayload, PayloadCipher } from '../core/ports.js';

/**
 * Envelope encryption of full audit payloads: a KMS data key (AES-256) generated under the
 * tenant's key with encryption context {tenant_id}, AES-256-GCM with AAD = tenant|event. Data
 * keys are reused for at most `maxUses` payloads / `maxAgeMs` per tenant (AWS Encryption SDK
 * caching style) so a busy tenant does not pay a KMS call per event.
 */
export class KmsEnvelopeCipher implements PayloadCipher {
  private readonly cache = new Map<string, { plain: Buffer; edk: string; uses: number; at: number }>();
  constructor(
    private readonly keyArn: string,
    private readonly client: KMSClient = kmsClient(),
    private readonly opts: { maxUses?: number; maxAgeMs?: number } = {},
  ) {}

  private async dataKey(tenantId: string): Promise<{ plain: Buffer; edk: string }> {
    const hit = this.cache.get(tenantId);
    const now = Date.now();
    if (hit && hit.uses < (this.opts.maxUses ?? 1000) && now - hit.at < (this.opts.maxAgeMs ?? 300_000)) {
      hit.uses++;
      return hit;
    }
    const r = await this.client.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyArn,
        KeySpec: 'AES_256',
        EncryptionContext: { tenant_id: tenantId },
      }),
    );
    if (!r.Plaintext || !r.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no key');
    const entry = {
      plain: Buffer.from(r.Plaintext),
      edk: Buffer.from(r.CiphertextBlob).toString('base64'),
      uses: 1,
      at: now,
    };
    this.cache.set(tenantId, entry);
    return entry;
  }

  async encrypt(tenantId: string, eventId: string, plaintext: Uint8Array): Promise<EncryptedPayload> {
    const { plain, edk } = await this.dataKey(tenantId);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', plain, iv);
    c.setAAD(Buffer.from(`${tenantId}|${eventId}`));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return {
      alg: 'A256GCM',
      key_arn: this.keyArn,
      edk,
      iv: iv.toString('base64'),
      tag: c.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    };
  }

  async decrypt(tenantId: string, eventId: string, enc: EncryptedPayload): Promise<Uint8Array> {
    const r = await this.client.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(enc.edk, 'base64'),
        EncryptionContext: { tenant_id: tenantId },
        KeyId: enc.key_arn,
      }),
    );
    if (!r.Plaintext) throw new Error('KMS Decrypt returned no key');
    const d = createDecipheriv('aes-256-gcm', Buffer.from(r.Plaintext), Buffer.from(enc.iv, 'base64'));
    d.setAAD(Buffer.from(`${tenantId}|${eventId}`));
    d.setAuthTag(Buffer.from(enc.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(enc.ct, 'base64')), d.final()]);
  }
}
