import type { EncryptedPayload, PayloadCipher } from '../../audit/index.js';
import type { Subscription } from '../core/model.js';
import type { SecretBox } from '../core/ports.js';

/** AAD of a subscription's sealed secrets (tenant|streaming-subscription:<id>). */
const aad = (subscriptionId: string) => `streaming-subscription:${subscriptionId}`;

/**
 * A subscription's signing secret (and PagerDuty routing key) under the tenant's data key, the way
 * observability stores its export headers: envelope-encrypted with KMS, bound to the tenant and the
 * subscription, never returned after creation.
 */
export class EnvelopeSecretBox implements SecretBox {
  private readonly opened = new Map<string, Record<string, string>>();
  constructor(private readonly cipher: PayloadCipher) {}

  async seal(tenantId: string, subscriptionId: string, secret: Record<string, string>): Promise<unknown> {
    return this.cipher.encrypt(tenantId, aad(subscriptionId), Buffer.from(JSON.stringify(secret), 'utf8'));
  }

  async open(tenantId: string, subscriptionId: string, sealed: unknown): Promise<Record<string, string>> {
    const plain = await this.cipher.decrypt(tenantId, aad(subscriptionId), sealed as EncryptedPayload);
    return JSON.parse(Buffer.from(plain).toString('utf8')) as Record<string, string>;
  }

  /**
   * Opens a subscription's secrets once per process (KMS Decrypt per delivery would cap the
   * delivery rate); keyed by the sealed value, so a re-created subscription is opened afresh.
   */
  async openCached(sub: Subscription): Promise<Record<string, string>> {
    const enc = sub.secret_enc as EncryptedPayload;
    const key = `${sub.tenant_id}|${sub.subscription_id}|${enc.edk}|${enc.ct}`;
    const hit = this.opened.get(key);
    if (hit) return hit;
    const v = await this.open(sub.tenant_id, sub.subscription_id, enc);
    if (this.opened.size > 1000) this.opened.clear();
    this.opened.set(key, v);
    return v;
  }
}
