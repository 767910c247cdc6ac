/**
 * In-memory adapters of the identity ports, for unit tests of the cores and the benchmark. The
 * key manager holds real P-256 keys and answers like KMS (SPKI public keys, DER signatures).
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { KeyManager, KeyStore, TenantKey } from '../../lambdas/identity/core/keys.js';

export class MemoryKeyManager implements KeyManager {
  readonly keys = new Map<string, { priv: KeyObject; pub: KeyObject; tenant: string }>();
  readonly aliases = new Map<string, string>();
  signCalls = 0;
  /** When set, sign() throws it (to test fail-closed behaviour). */
  failSign: Error | null = null;
  private n = 0;

  async findProvisionedKey(tenantId: string): Promise<string | null> {
    return this.aliases.get(tenantId) ?? null;
  }
  async createKey(tenantId: string): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const arn = `arn:aws:kms:us-east-1:000000000000:key/mem-${++this.n}`;
    this.keys.set(arn, { priv: privateKey, pub: publicKey, tenant: tenantId });
    return arn;
  }
  async pointAlias(tenantId: string, keyArn: string): Promise<void> {
    this.aliases.set(tenantId, keyArn);
  }
  async getPublicKey(keyArn: string): Promise<Uint8Array> {
    const k = this.keys.get(keyArn);
    if (!k) throw new Error('NotFoundException');
    return k.pub.export({ format: 'der', type: 'spki' });
  }
  async sign(keyArn: string, message: Uint8Array): Promise<Uint8Array> {
    this.signCalls++;
    if (this.failSign) throw this.failSign;
    const k = this.keys.get(keyArn);
    if (!k) throw new Error('NotFoundException');
    return nodeSign('sha256', message, { key: k.priv, dsaEncoding: 'der' });
  }
}

export class MemoryKeyStore implements KeyStore {
  readonly active = new Map<string, string>();
  readonly keys = new Map<string, TenantKey[]>();
  loads = 0;
  async load(tenantId: string): Promise<{ activeKid: string | null; keys: TenantKey[] }> {
    this.loads++;
    return { activeKid: this.active.get(tenantId) ?? null, keys: [...(this.keys.get(tenantId) ?? [])] };
  }
  async initialize(key: TenantKey): Promise<boolean> {
    if (this.active.has(key.tenant_id)) return false;
    this.active.set(key.tenant_id, key.kid);
    this.keys.set(key.tenant_id, [key]);
    return true;
  }
  async rotate(next: TenantKey, previousKid: string, retiredAt: string, retireAfter: string): Promise<boolean> {
    if (this.active.get(next.tenant_id) !== previousKid) return false;
    const list = (this.keys.get(next.tenant_id) ?? []).map((k) =>
      k.kid === previousKid
        ? { ...k, status: 'retired' as const, retired_at: retiredAt, retire_after: retireAfter }
        : k,
    );
    this.keys.set(next.tenant_id, [...list, next]);
    this.active.set(next.tenant_id, next.kid);
    return true;
  }
}
