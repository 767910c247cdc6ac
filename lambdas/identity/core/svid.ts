/**
 * JWT-SVID issuance (SPIFFE JWT-SVID, RFC 7519). One token per (agent, audience, scope): `sub` is
 * the agent's SPIFFE id, exactly one `aud`, `exp` ≤ 60 min after `iat`, a unique `jti`, the owner's
 * OIDC subject bound at issuance, the agent's credential generation (rotation invalidates older
 * generations) and an optional space-delimited `scope`. Signed ES256 by the tenant key (`kid`).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { spiffeIdOf } from '../../shared/ids.js';
import { SVID_MAX_TTL_S } from './keys.js';

/** Audience of SVIDs used on ARX's own API (ARCHITECTURE: agents use SVIDs with audience `arx`). */
export const ARX_AUDIENCE = 'arx';
/** Default SVID lifetime. */
export const SVID_DEFAULT_TTL_S = 900;
export const SVID_TYP = 'JWT';

/** `spiffe://<tenant>.arx/<platform>/<agent_id>` (tenant and platform slugs, ULID agent id). */
export const SPIFFE_ID =
  /^spiffe:\/\/([a-z0-9][a-z0-9-]{0,62})\.arx\/([a-z0-9][a-z0-9-]{0,62})\/(agt_[0-9A-HJKMNP-TV-Z]{26})$/;

export interface SpiffeParts {
  readonly tenantId: string;
  readonly platform: string;
  readonly agentId: string;
}
export function parseSpiffeId(id: unknown): SpiffeParts | null {
  const m = typeof id === 'string' ? SPIFFE_ID.exec(id) : null;
  return m ? { tenantId: m[1]!, platform: m[2]!, agentId: m[3]! } : null;
}

/** The SVID issuer of a tenant: `<issuer base>/tenants/<tenant>`; its JWKS is `<iss>/.well-known/jwks.json`. */
export const issuerOf = (issuerBase: string, tenantId: string): string =>
  `${issuerBase.replace(/\/+$/, '')}/tenants/${tenantId}`;

/** `arx`, or an absolute URI without fragment (RFC 8707 resource / RFC 8693 audience), ≤ 256 chars. */
export function isValidAudience(a: string): boolean {
  if (a === ARX_AUDIENCE) return true;
  if (a.length > 256 || /\s/.test(a)) return false;
  try {
    const u = new URL(a);
    return (u.protocol === 'https:' || u.protocol === 'urn:' || u.protocol === 'http:') && !a.includes('#');
  } catch {
    return false;
  }
}

/** RFC 6749 §3.3 scope-token characters. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
/** Parses a space-delimited scope; null when malformed. Duplicates collapse; order is kept. */
export function parseScope(s: string): string[] | null {
  const parts = s.split(' ');
  if (parts.length > 64 || parts.some((p) => !SCOPE_TOKEN.test(p))) return null;
  return [...new Set(parts)];
}

export interface SvidClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  /** OIDC subject of the accountable human owner, bound at issuance. */
  owner_sub: string;
  /** Credential generation of the agent; rotate bumps it and older SVIDs stop verifying. */
  gen: number;
  /** Space-delimited scope; absent = not narrowed by the token (policy still decides). */
  scope?: string;
  /** jti of the SVID this one was exchanged from. */
  parent_jti?: string;
}

export interface MintRequest {
  readonly tenantId: string;
  readonly platform: string;
  readonly agentId: string;
  readonly ownerSub: string;
  readonly generation: number;
  readonly audience: string;
  readonly scope?: readonly string[] | null;
  /** @default SVID_DEFAULT_TTL_S, capped at SVID_MAX_TTL_S */
  readonly ttlS?: number;
  /** Epoch seconds the token may not outlive (its parent's `exp`). */
  readonly notAfter?: number;
  readonly parentJti?: string;
}

/** Builds the claims of an SVID. Pure; `now` and `jti` are inputs. */
export function buildClaims(req: MintRequest, issuerBase: string, now: Date, jti: string): SvidClaims {
  const iat = Math.floor(now.getTime() / 1000);
  const ttl = Math.min(Math.max(1, req.ttlS ?? SVID_DEFAULT_TTL_S), SVID_MAX_TTL_S);
  const exp = Math.min(iat + ttl, req.notAfter ?? Number.MAX_SAFE_INTEGER);
  return {
    iss: issuerOf(issuerBase, req.tenantId),
    sub: spiffeIdOf(req.tenantId, req.platform, req.agentId),
    aud: req.audience,
    exp,
    iat,
    nbf: iat,
    jti,
    owner_sub: req.ownerSub,
    gen: req.generation,
    ...(req.scope && req.scope.length > 0 ? { scope: req.scope.join(' ') } : {}),
    ...(req.parentJti ? { parent_jti: req.parentJti } : {}),
  };
}

/** Port: compact-JWS signing with the tenant key (TenantKeys implements it). */
export interface JwsSigner {
  signJws(tenantId: string, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string>;
}

export interface MintedSvid {
  readonly token: string;
  readonly claims: SvidClaims;
  readonly expires_in: number;
}

/**
 * Mints JWT-SVIDs.
 *
 * @example
 * const issuer = new SvidIssuer(tenantKeys, systemClock, { issuerBase: 'https://api.example' });
 * const { token } = await issuer.mint({ tenantId, platform, agentId, ownerSub, generation: 1, audience: 'arx' });
 */
export class SvidIssuer {
  constructor(
    private readonly signer: JwsSigner,
    private readonly clock: Clock,
    private readonly opts: { issuerBase: string; newJti?: () => string },
  ) {}

  async mint(req: MintRequest): Promise<MintedSvid> {
    const now = this.clock.now();
    const jti = this.opts.newJti ? this.opts.newJti() : randomBytes(16).toString('base64url');
    const claims = buildClaims(req, this.opts.issuerBase, now, jti);
    if (claims.exp <= claims.iat) throw new RangeError('the token would already be expired');
    const token = await this.signer.signJws(
      req.tenantId,
      { typ: SVID_TYP },
      claims as unknown as Record<string, unknown>,
    );
    return { token, claims, expires_in: claims.exp - claims.iat };
  }
}
