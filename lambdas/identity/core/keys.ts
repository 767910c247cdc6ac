/**
 * Tenant signing keys (seed C2.1, ARCHITECTURE: one KMS ECC_NIST_P256 SIGN_VERIFY key per tenant).
 * The active key signs; a rotated key stays published in the tenant JWKS until the last token it
 * signed has expired (`retire_after` = rotation + max token TTL + signing-key cache + skew). `kid` is the
 * RFC 7638 thumbprint of the public key, so any verifier can recompute it.
 */
import type { JWK } from 'jose';
import type { Clock } from '../../shared/clock.js';
import { ConflictError, DependencyError, NotFoundError } from '../../shared/errors.js';
import type { PublicJwk, TenantSignature, TenantSigner } from '../../shared/ports.js';
import { b64u, derToJose, kidOf, spkiToJwk } from './jws.js';

/** Longest SVID lifetime (seed C2.1: TTL ≤ 60 minutes). */
export const SVID_MAX_TTL_S = 3600;
/** Clock skew tolerated by every ARX verifier. */
export const CLOCK_SKEW_S = 60;
export const SVID_ALG = 'ES256' as const;

export interface TenantKey {
  readonly tenant_id: string;
  readonly kid: string;
  readonly key_arn: string;
  readonly public_jwk: JWK;
  readonly status: 'active' | 'retired';
  readonly created_at: string;
  readonly retired_at?: string;
  /** ISO time after which the key leaves the JWKS (retired keys only). */
  readonly retire_after?: string;
}

/** A published verification key (RFC 7517): the shared port's shape. */
export type { PublicJwk, TenantSignature } from '../../shared/ports.js';
export interface Jwks {
  readonly keys: PublicJwk[];
}

/** Port: the KMS side of tenant keys. `sign` returns the DER ECDSA signature KMS produces. */
export interface KeyManager {
  /** The key provisioned for the tenant (alias `alias/arx/<tenant>/signing` or the tagged initial key), if any. */
  findProvisionedKey(tenantId: string): Promise<string | null>;
  /** Creates a new ECC_NIST_P256 SIGN_VERIFY key tagged `arx:tenant=<tenant>`; returns its ARN. */
  createKey(tenantId: string): Promise<string>;
  /** Points the tenant alias at `keyArn` (creates it when missing). */
  pointAlias(tenantId: string, keyArn: string): Promise<void>;
  /** SPKI DER of the public key. */
  getPublicKey(keyArn: string): Promise<Uint8Array>;
  /** ECDSA_SHA_256 over the raw message; DER signature. */
  sign(keyArn: string, message: Uint8Array): Promise<Uint8Array>;
}

/** Port: where tenant keys are registered (the control table). */
export interface KeyStore {
  /** The tenant's keys and the kid of its active key (null when none registered yet). */
  load(tenantId: string): Promise<{ activeKid: string | null; keys: TenantKey[] }>;
  /** Registers the tenant's first key; false when another writer registered one first. */
  initialize(key: TenantKey): Promise<boolean>;
  /** Makes `next` active and retires `previousKid`; false when the active key changed meanwhile. */
  rotate(next: TenantKey, previousKid: string, retiredAt: string, retireAfter: string): Promise<boolean>;
}

export interface RotationResult {
  readonly tenant_id: string;
  readonly kid: string;
  readonly previous_kid: string | null;
  readonly previous_retire_after: string | null;
}

export const publicJwkOf = (k: TenantKey): PublicJwk => ({
  kty: 'EC',
  crv: 'P-256',
  x: k.public_jwk.x!,
  y: k.public_jwk.y!,
  kid: k.kid,
  alg: SVID_ALG,
  use: 'sig',
});

/** Keys a verifier must accept at `now`: the active key and retired keys not yet past `retire_after`. */
export function publishedKeys(keys: readonly TenantKey[], now: Date): TenantKey[] {
  return keys.filter(
    (k) => k.status === 'active' || (k.retire_after !== undefined && Date.parse(k.retire_after) > now.getTime()),
  );
}

export interface TenantKeysOptions {
  /** How long the active key is cached per process. @default 60_000 */
  readonly cacheMs?: number;
  /** @default SVID_MAX_TTL_S */
  readonly maxTokenTtlS?: number;
}

/**
 * The one TenantSigner: signs with the tenant's KMS key and publishes the tenant JWKS. There is
 * never a local fallback key: when KMS cannot sign, callers get DependencyError and issue nothing.
 * Identity's instance (alias `alias/arx/<tenant>/signing`) signs SVIDs, policy bundles and exit
 * attestations; audit's AuditKeys runs the same class over the tenant's audit key set.
 *
 * @example
 * const keys = new TenantKeys(store, kms, systemClock);
 * const { kid, signature } = await keys.sign('acme', bytes); // 64-byte R‖S, verify with the JWKS
 */
export class TenantKeys implements TenantSigner {
  private readonly active = new Map<string, { key: TenantKey; at: number }>();
  private readonly listeners: ((tenantId: string) => void)[] = [];
  constructor(
    private readonly store: KeyStore,
    private readonly kms: KeyManager,
    private readonly clock: Clock,
    private readonly opts: TenantKeysOptions = {},
  ) {}

  /** Called after a rotation in this process (verifiers drop their cached JWKS). */
  onRotate(listener: (tenantId: string) => void): void {
    this.listeners.push(listener);
  }

  /** The tenant's active key, registering the provisioned (or a new) KMS key on first use. */
  async activeKey(tenantId: string): Promise<TenantKey> {
    const now = this.clock.now().getTime();
    const hit = this.active.get(tenantId);
    if (hit && now - hit.at < (this.opts.cacheMs ?? 60_000)) return hit.key;
    let key: TenantKey | undefined;
    try {
      let { activeKid, keys } = await this.store.load(tenantId);
      if (!activeKid) {
        await this.provision(tenantId);
        ({ activeKid, keys } = await this.store.load(tenantId));
      }
      key = keys.find((k) => k.kid === activeKid);
    } catch (e) {
      throw new DependencyError('tenant signing key unavailable', { cause: e });
    }
    if (!key) throw new DependencyError('tenant signing key unavailable');
    this.active.set(tenantId, { key, at: now });
    return key;
  }

  private async describe(tenantId: string, keyArn: string, status: TenantKey['status']): Promise<TenantKey> {
    const jwk = spkiToJwk(await this.kms.getPublicKey(keyArn));
    return {
      tenant_id: tenantId,
      kid: await kidOf(jwk),
      key_arn: keyArn,
      public_jwk: jwk,
      status,
      created_at: this.clock.now().toISOString(),
    };
  }

  private async provision(tenantId: string): Promise<void> {
    const provisioned = await this.kms.findProvisionedKey(tenantId);
    const arn = provisioned ?? (await this.kms.createKey(tenantId));
    const won = await this.store.initialize(await this.describe(tenantId, arn, 'active'));
    if (won && !provisioned) await this.kms.pointAlias(tenantId, arn);
  }

  /** kid of the tenant's active key (registered on first use). */
  async activeKid(tenantId: string): Promise<string> {
    return (await this.activeKey(tenantId)).kid;
  }

  /**
   * Every key registered for the tenant (active first, then retired, newest first), including
   * retired keys past `retire_after`: they no longer verify SVIDs (see `jwks`), but bundles and
   * attestations signed before a rotation must. Empty when the tenant has none; creates nothing.
   */
  async publicKeys(tenantId: string): Promise<PublicJwk[]> {
    const { activeKid, keys } = await this.store.load(tenantId);
    const rank = (k: TenantKey): number => (k.kid === activeKid ? 0 : 1);
    return [...keys].sort((a, b) => rank(a) - rank(b) || b.created_at.localeCompare(a.created_at)).map(publicJwkOf);
  }

  /**
   * Signs `message` (ECDSA P-256 / SHA-256) with the tenant's active key: `signWithTenantKey`.
   * Returns the JWS form (64-byte R‖S) and the kid to look the public key up in the tenant JWKS.
   */
  async sign(tenantId: string, message: Uint8Array): Promise<TenantSignature> {
    const key = await this.activeKey(tenantId);
    let der: Uint8Array;
    try {
      der = await this.kms.sign(key.key_arn, message);
    } catch (e) {
      throw new DependencyError('KMS signing unavailable', { cause: e });
    }
    return { kid: key.kid, alg: SVID_ALG, signature: derToJose(der) };
  }

  /** Compact JWS (ES256) of `payload` with the tenant key; `header` gets `alg` and `kid` set here. */
  async signJws(tenantId: string, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
    const key = await this.activeKey(tenantId);
    const input = `${b64u(JSON.stringify({ ...header, alg: SVID_ALG, kid: key.kid }))}.${b64u(JSON.stringify(payload))}`;
    let der: Uint8Array;
    try {
      der = await this.kms.sign(key.key_arn, Buffer.from(input, 'ascii'));
    } catch (e) {
      throw new DependencyError('KMS signing unavailable', { cause: e });
    }
    return `${input}.${b64u(derToJose(der))}`;
  }

  /** The tenant JWKS; NotFoundError when the tenant has no key (nothing is created on a read). */
  async jwks(tenantId: string): Promise<Jwks> {
    const { keys } = await this.store.load(tenantId);
    const published = publishedKeys(keys, this.clock.now());
    if (published.length === 0) throw new NotFoundError(`no signing keys for tenant ${tenantId}`);
    return {
      keys: published.sort((a, b) => (a.status === 'active' ? -1 : b.status === 'active' ? 1 : 0)).map(publicJwkOf),
    };
  }

  /**
   * Creates a new KMS key for the tenant and signs with it from now on; the previous key stays
   * published until `now + max token TTL + skew`.
   */
  async rotate(tenantId: string): Promise<RotationResult> {
    const previous = await this.activeKey(tenantId);
    const arn = await this.kms.createKey(tenantId);
    const next = await this.describe(tenantId, arn, 'active');
    const now = this.clock.now();
    // Other processes may still sign with the previous key for up to their active-key cache
    // (≤ 60 s) and verifiers accept `exp` up to the skew (60 s) late: keep it published that long.
    const lingerS =
      (this.opts.maxTokenTtlS ?? SVID_MAX_TTL_S) + Math.ceil((this.opts.cacheMs ?? 60_000) / 1000) + CLOCK_SKEW_S;
    const retireAfter = new Date(now.getTime() + lingerS * 1000).toISOString();
    const ok = await this.store.rotate(next, previous.kid, now.toISOString(), retireAfter);
    if (!ok) throw new ConflictError('the tenant signing key changed concurrently; retry');
    await this.kms.pointAlias(tenantId, arn);
    this.active.set(tenantId, { key: next, at: now.getTime() });
    for (const l of this.listeners) l(tenantId);
    return { tenant_id: tenantId, kid: next.kid, previous_kid: previous.kid, previous_retire_after: retireAfter };
  }
}
