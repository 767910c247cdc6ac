import type { PublicJwk, TenantKeySet } from '../../../lambdas/shared/ports.js';

/**
 * The tenant's public keys as ARX publishes them (GET <issuer base>/tenants/<t>/.well-known/jwks.json),
 * for an enforcement point whose role may not read the key registry (F14): bundle signatures are
 * checked against the bundle tenant's own keys. The JWKS holds the active key and keys retired
 * less than an SVID lifetime ago, so a bundle signed before a key rotation must be pushed again
 * within that window to stay loadable by a cold-started extension.
 */
export class PublishedTenantKeys implements TenantKeySet {
  constructor(
    private readonly issuerBase: string,
    private readonly timeoutMs = 2000,
  ) {}

  /** The tenant JWKS document, or null when the tenant has none (404). Throws on any other failure. */
  async jwks(tenantId: string): Promise<{ keys: unknown[] } | null> {
    const url = `${this.issuerBase.replace(/\/$/, '')}/tenants/${encodeURIComponent(tenantId)}/.well-known/jwks.json`;
    const r = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`tenant keys unavailable: HTTP ${r.status}`);
    const doc = (await r.json()) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) throw new Error('tenant key set has no "keys" array');
    return { keys: doc.keys };
  }

  async publicKeys(tenantId: string): Promise<PublicJwk[]> {
    const doc = await this.jwks(tenantId);
    const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
    return (doc?.keys ?? [])
      .filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null)
      .filter((k) => k.kty === 'EC' && k.crv === 'P-256' && str(k.x) && str(k.y) && str(k.kid))
      .map((k) => ({
        kty: 'EC',
        crv: 'P-256',
        x: k.x as string,
        y: k.y as string,
        kid: k.kid as string,
        alg: 'ES256',
        use: 'sig',
      }));
  }
}
