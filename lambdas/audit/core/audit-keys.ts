/**
 * The tenant's audit key set (F8): the keys that sign audit block heads. Signing uses the
 * active key; rotation makes a new one active; no key ever leaves the published set, so a block
 * sealed under any earlier key still verifies. Reuses identity's TenantKeys for the KMS and
 * registration mechanics (kid = RFC 7638 thumbprint), over its own store and KMS alias.
 */
import type { Clock } from '../../shared/clock.js';
import { NotFoundError } from '../../shared/errors.js';
import type { PublicJwk, TenantSigner } from '../../shared/ports.js';
import {
  publicJwkOf,
  TenantKeys,
  type Jwks,
  type KeyManager,
  type KeyStore,
  type RotationResult,
  type TenantKey,
  type TenantSignature,
} from '../../identity/index.js';

/** The TenantSigner of audit block heads: identity's TenantKeys over the audit key set. */
export class AuditKeys implements TenantSigner {
  private readonly keys: TenantKeys;
  constructor(
    private readonly store: KeyStore,
    kms: KeyManager,
    clock: Clock,
  ) {
    this.keys = new TenantKeys(store, kms, clock);
  }

  /** The active audit key, created (KMS) and registered on first use. */
  activeKey(tenantId: string): Promise<TenantKey> {
    return this.keys.activeKey(tenantId);
  }

  async activeKid(tenantId: string): Promise<string> {
    return (await this.keys.activeKey(tenantId)).kid;
  }

  /** The audit key set (every key ever used, active first); empty when the tenant has none. */
  async publicKeys(tenantId: string): Promise<PublicJwk[]> {
    try {
      return (await this.keySet(tenantId)).keys;
    } catch (e) {
      if (e instanceof NotFoundError) return [];
      throw e;
    }
  }

  /** ES256 over `message` with the active audit key (64-byte R‖S). */
  sign(tenantId: string, message: Uint8Array): Promise<TenantSignature> {
    return this.keys.sign(tenantId, message);
  }

  /** A new active audit key; the previous one stays in the key set. */
  async rotate(tenantId: string): Promise<RotationResult> {
    return { ...(await this.keys.rotate(tenantId)), previous_retire_after: null };
  }

  /**
   * Every audit key the tenant ever had, the active one first, oldest to newest after it.
   * NotFoundError when the tenant has none (nothing is created on a read).
   */
  async keySet(tenantId: string): Promise<Jwks> {
    const { activeKid, keys } = await this.store.load(tenantId);
    if (keys.length === 0) throw new NotFoundError(`no audit keys for tenant ${tenantId}`);
    const ordered = [...keys].sort((a, b) =>
      a.kid === activeKid ? -1 : b.kid === activeKid ? 1 : a.created_at.localeCompare(b.created_at),
    );
    return { keys: ordered.map(publicJwkOf) };
  }
}
