/**
 * `verifySvid`: the one JWT-SVID verifier, used by ARX's authorizer, the token endpoint and
 * external enforcement points. Checks, in order: size ≤ 8 KB (before any parsing), exactly three
 * base64url segments, a JSON header with `alg` ES256 (pinned), `typ` JWT, a `kid`, no `crit`; a
 * `sub` that is an ARX SPIFFE id whose trust domain names the tenant whose JWKS holds the `kid`;
 * then the ES256 signature (node:crypto, P-256 key imported once per kid, 64-byte R‖S only) and the
 * RFC 7519 claims (issuer, one audience, exp/nbf/iat with ≤ 60 s skew, lifetime ≤ 60 min); finally
 * the revocation list and the agent's credential generation. Any failure is an SvidError; nothing
 * about a refused token is trusted.
 *
 * Why node:crypto and not jose `jwtVerify` on this path: jose verifies through WebCrypto, whose
 * async thread-pool hop halves throughput (measured in bench/identity.bench.ts); the algorithm is
 * pinned before any key is touched, so jose's algorithm negotiation adds nothing here. Every test
 * checks issued tokens with jose against the published JWKS, independently of this code.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import type { Clock } from '../../shared/clock.js';
import { REVOCATION_CACHE_MS, type RevocationStatus } from '../../shared/ports.js';
import { CLOCK_SKEW_S, SVID_ALG, SVID_MAX_TTL_S } from './keys.js';
import { B64URL } from './jws.js';
import { issuerOf, parseSpiffeId, SVID_TYP, type SvidClaims } from './svid.js';

/** Largest token accepted; longer input is refused before it is parsed. */
export const MAX_SVID_BYTES = 8 * 1024;

export type SvidFailure =
  | 'too_large'
  | 'malformed'
  | 'unsupported_alg'
  | 'missing_kid'
  | 'unknown_kid'
  | 'crit_unsupported'
  | 'bad_subject'
  | 'invalid_signature'
  | 'invalid_claims'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'inactive'
  | 'stale_generation'
  | 'revocation_unavailable'
  | 'keys_unavailable';

/** A refused SVID. `reason` is safe to log; never echo the token. */
export class SvidError extends Error {
  override readonly name = 'SvidError';
  constructor(
    readonly reason: SvidFailure,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

export interface VerifiedSvid {
  readonly tenantId: string;
  readonly platform: string;
  readonly agentId: string;
  readonly spiffeId: string;
  readonly audience: string;
  /** null when the token does not narrow scope. */
  readonly scope: readonly string[] | null;
  readonly ownerSub: string;
  readonly generation: number;
  readonly jti: string;
  readonly kid: string;
  readonly iat: number;
  readonly exp: number;
  readonly claims: SvidClaims;
}

/** What the verifier needs to know about an agent beyond the revocation list. */
export interface AgentCredentialState {
  readonly generation: number;
  readonly status: 'active' | 'suspended' | 'revoked' | 'terminated';
}

export interface SvidVerifierDeps {
  /** SVID issuer base (`iss` = `<base>/tenants/<tenant>`). */
  readonly issuerBase: string;
  /** The tenant's published JWKS, or null when the tenant has none. */
  readonly fetchJwks: (tenantId: string) => Promise<JSONWebKeySet | null>;
  /** Revocation list (CachedRevocationChecker); `unknown` is refused (fail closed). */
  readonly revocation?: RevocationStatus;
  /** Current generation and status; null = never rotated nor changed by identity (generation 1, active). */
  readonly agentState?: { get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> };
  readonly clock: Clock;
  /** Cached JWKS lifetime. @default 300_000 */
  readonly jwksMaxAgeMs?: number;
  /** Minimum time between refetches caused by an unknown kid (no refetch storm). @default 10_000 */
  readonly jwksCooldownMs?: number;
  /** Tenants whose key sets are kept (least recently used evicted first, F29). @default 1000 */
  readonly jwksMaxTenants?: number;
  /** How long a tenant without keys (unknown tenant) is remembered before it is read again (F29). @default 60_000 */
  readonly jwksNegativeTtlMs?: number;
}

export interface VerifyOptions {
  /** Required audience; `{ any: true }` accepts any single audience (token exchange only). */
  readonly audience: string | { readonly any: true };
}

interface CachedJwks {
  /** kid → P-256 public key (only EC P-256 keys usable for ES256 are kept). */
  readonly keys: Map<string, KeyObject>;
  readonly fetchedAt: number;
  /** Loaded because of an unknown kid: further unknown kids wait for the cooldown. */
  readonly viaMiss: boolean;
}

/** Imports the usable keys of a JWKS: EC P-256 with a kid, `alg` absent or ES256, `use` absent or sig. */
function importKeys(set: JSONWebKeySet | null): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const k of set?.keys ?? []) {
    if (typeof k.kid !== 'string' || k.kty !== 'EC' || k.crv !== 'P-256') continue;
    if ((k.alg !== undefined && k.alg !== SVID_ALG) || (k.use !== undefined && k.use !== 'sig')) continue;
    try {
      out.set(
        k.kid,
        createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: String(k.x), y: String(k.y) }, format: 'jwk' }),
      );
    } catch {
      /* an unusable key is simply not offered */
    }
  }
  return out;
}

function decodeSegment(seg: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
  } catch {
    throw new SvidError('malformed', `${what} is not base64url JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SvidError('malformed', `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * @example
 * const verifier = new SvidVerifier({ issuerBase, fetchJwks: (t) => keys.jwks(t), revocation, clock: systemClock });
 * const svid = await verifier.verify(token, { audience: 'arx' }); // throws SvidError
 */
export class SvidVerifier {
  /** Bounded LRU (Map insertion order = recency): positive and negative entries alike (F29). */
  private readonly jwks = new Map<string, CachedJwks>();
  private readonly inflight = new Map<string, Promise<CachedJwks | null>>();
  constructor(private readonly deps: SvidVerifierDeps) {}

  /** Drops the cached JWKS of a tenant (after a rotation in this process). */
  invalidate(tenantId: string): void {
    this.jwks.delete(tenantId);
  }

  /** Number of tenants whose key set (or absence of one) is cached. */
  cachedTenants(): number {
    return this.jwks.size;
  }

  private touch(tenantId: string): CachedJwks | undefined {
    const e = this.jwks.get(tenantId);
    if (e) {
      this.jwks.delete(tenantId);
      this.jwks.set(tenantId, e);
    }
    return e;
  }

  private remember(tenantId: string, entry: CachedJwks): void {
    this.jwks.delete(tenantId);
    this.jwks.set(tenantId, entry);
    const max = Math.max(1, this.deps.jwksMaxTenants ?? 1000);
    while (this.jwks.size > max) this.jwks.delete(this.jwks.keys().next().value!);
  }

  private async load(tenantId: string, viaMiss = false): Promise<CachedJwks | null> {
    const pending = this.inflight.get(tenantId);
    if (pending) return pending;
    const p = (async () => {
      let set: JSONWebKeySet | null;
      try {
        set = await this.deps.fetchJwks(tenantId);
      } catch (e) {
        throw new SvidError('keys_unavailable', 'tenant keys could not be read', { cause: e });
      }
      const now = this.deps.clock.now().getTime();
      const entry: CachedJwks = {
        keys: importKeys(set),
        fetchedAt: now,
        viaMiss,
      };
      this.remember(tenantId, entry);
      return entry;
    })();
    this.inflight.set(tenantId, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(tenantId);
    }
  }

  /**
   * The tenant's key set holding `kid`. An unknown kid triggers one refetch (a key rotated in
   * elsewhere); after such a refetch, further unknown kids wait for the cooldown (no refetch storm).
   */
  private async keysFor(tenantId: string, kid: string): Promise<CachedJwks> {
    const now = this.deps.clock.now().getTime();
    let entry = this.touch(tenantId);
    if (entry && entry.keys.size === 0) {
      // Negative cache: a tenant without keys is not read again before the negative TTL.
      if (now - entry.fetchedAt >= (this.deps.jwksNegativeTtlMs ?? 60_000))
        entry = (await this.load(tenantId)) ?? undefined;
    } else if (!entry || now - entry.fetchedAt >= (this.deps.jwksMaxAgeMs ?? 300_000)) {
      entry = (await this.load(tenantId)) ?? undefined;
    } else if (
      !entry.keys.has(kid) &&
      (!entry.viaMiss || now - entry.fetchedAt >= (this.deps.jwksCooldownMs ?? 10_000))
    ) {
      entry = (await this.load(tenantId, true)) ?? undefined;
    }
    if (!entry?.keys.has(kid)) throw new SvidError('unknown_kid', 'the key id is not published for the subject tenant');
    return entry;
  }

  async verify(token: string, opts: VerifyOptions): Promise<VerifiedSvid> {
    if (typeof token !== 'string' || Buffer.byteLength(token, 'utf8') > MAX_SVID_BYTES) {
      throw new SvidError('too_large', `token exceeds ${MAX_SVID_BYTES} bytes`);
    }
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => p.length === 0 || !B64URL.test(p))) {
      throw new SvidError('malformed', 'a JWS has exactly three non-empty base64url segments');
    }
    const header = decodeSegment(parts[0]!, 'header');
    if (header.alg !== SVID_ALG) throw new SvidError('unsupported_alg', 'only ES256 is accepted');
    if (header.typ !== undefined && header.typ !== SVID_TYP) throw new SvidError('malformed', 'typ must be JWT');
    if (header.crit !== undefined)
      throw new SvidError('crit_unsupported', 'no critical header parameters are understood');
    if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 128) {
      throw new SvidError('missing_kid', 'kid is required');
    }
    const claimsPreview = decodeSegment(parts[1]!, 'payload');
    const subject = parseSpiffeId(claimsPreview.sub);
    if (!subject) throw new SvidError('bad_subject', 'sub is not an ARX SPIFFE id');
    // The trust domain in sub picks the JWKS: a kid of another tenant is simply unknown here.
    const keys = await this.keysFor(subject.tenantId, header.kid);

    // Signature first (pinned ES256: P-256, SHA-256, 64-byte R‖S); nothing in the payload is
    // trusted before it verifies. The signature must be canonical base64url (no malleable twins).
    const sig = Buffer.from(parts[2]!, 'base64url');
    const key = keys.keys.get(header.kid)!;
    if (
      sig.length !== 64 ||
      sig.toString('base64url') !== parts[2] ||
      !nodeVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, sig)
    ) {
      throw new SvidError('invalid_signature', 'signature verification failed');
    }
    const claims = claimsPreview as unknown as SvidClaims;
    checkClaims(claims, {
      issuer: issuerOf(this.deps.issuerBase, subject.tenantId),
      audience: opts.audience,
      now: Math.floor(this.deps.clock.now().getTime() / 1000),
    });
    if (this.deps.revocation) {
      const st = await this.deps.revocation.status(subject.tenantId, subject.agentId);
      if (st === 'revoked') throw new SvidError('revoked', 'the agent is revoked');
      if (st === 'unknown') throw new SvidError('revocation_unavailable', 'the revocation list cannot be read');
    }
    if (this.deps.agentState) {
      let state: AgentCredentialState | null;
      try {
        state = await this.deps.agentState.get(subject.tenantId, subject.agentId);
      } catch (e) {
        throw new SvidError('revocation_unavailable', 'agent state cannot be read', { cause: e });
      }
      if (state) {
        if (state.status === 'revoked' || state.status === 'terminated')
          throw new SvidError('revoked', `the agent is ${state.status}`);
        if (state.status !== 'active') throw new SvidError('inactive', `the agent is ${state.status}`);
        if (claims.gen !== state.generation)
          throw new SvidError('stale_generation', 'the agent credential was rotated');
      } else if (claims.gen !== 1) {
        throw new SvidError('stale_generation', 'unknown credential generation');
      }
    }
    return {
      tenantId: subject.tenantId,
      platform: subject.platform,
      agentId: subject.agentId,
      spiffeId: claims.sub,
      audience: claims.aud,
      scope: claims.scope ? claims.scope.split(' ') : null,
      ownerSub: claims.owner_sub,
      generation: claims.gen,
      jti: claims.jti,
      kid: header.kid,
      iat: claims.iat,
      exp: claims.exp,
      claims,
    };
  }
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * RFC 7519 claim checks of a signature-verified SVID, with the ARX profile: `iss` of the subject
 * tenant, exactly one `aud` (a string), `exp`/`iat` required, `nbf` optional, ≤ 60 s skew either
 * way, lifetime and age ≤ 60 min, `jti`, `owner_sub`, `gen` ≥ 1, optional string `scope`.
 */
function checkClaims(c: SvidClaims, opts: { issuer: string; audience: VerifyOptions['audience']; now: number }): void {
  const skew = CLOCK_SKEW_S;
  if (c.iss !== opts.issuer) throw new SvidError('invalid_claims', 'issuer mismatch');
  if (typeof c.aud !== 'string' || c.aud.length === 0)
    throw new SvidError('wrong_audience', 'exactly one audience is required');
  if (typeof opts.audience === 'string' && c.aud !== opts.audience)
    throw new SvidError('wrong_audience', 'audience mismatch');
  if (!isNumericDate(c.exp) || !isNumericDate(c.iat))
    throw new SvidError('invalid_claims', 'exp and iat are required NumericDates');
  if (c.nbf !== undefined && !isNumericDate(c.nbf)) throw new SvidError('invalid_claims', 'nbf must be a NumericDate');
  if (c.exp <= opts.now - skew) throw new SvidError('expired', 'token expired');
  if (c.nbf !== undefined && c.nbf > opts.now + skew) throw new SvidError('not_yet_valid', 'nbf is in the future');
  if (c.iat > opts.now + skew) throw new SvidError('not_yet_valid', 'iat is in the future');
  if (opts.now - c.iat > SVID_MAX_TTL_S + skew) throw new SvidError('expired', 'token is older than 60 minutes');
  if (c.exp - c.iat > SVID_MAX_TTL_S) throw new SvidError('invalid_claims', 'lifetime exceeds 60 minutes');
  if (typeof c.jti !== 'string' || c.jti.length === 0 || c.jti.length > 256)
    throw new SvidError('invalid_claims', 'jti is required');
  if (typeof c.owner_sub !== 'string' || c.owner_sub.length === 0)
    throw new SvidError('invalid_claims', 'owner_sub is required');
  if (!Number.isSafeInteger(c.gen) || c.gen < 1)
    throw new SvidError('invalid_claims', 'gen must be a positive integer');
  if (c.scope !== undefined && typeof c.scope !== 'string')
    throw new SvidError('invalid_claims', 'scope must be a string');
  if (c.parent_jti !== undefined && typeof c.parent_jti !== 'string')
    throw new SvidError('invalid_claims', 'parent_jti must be a string');
}

/**
 * Agent credential state with the same bounded staleness as the revocation list (REVOCATION_CACHE_MS).
 * A read failure beyond the window propagates (callers fail closed).
 */
export class CachedAgentState {
  private readonly cache = new Map<string, { state: AgentCredentialState | null; at: number }>();
  constructor(
    private readonly source: { get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> },
    private readonly clock: Clock,
    private readonly windowMs = REVOCATION_CACHE_MS,
  ) {}
  async get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> {
    const key = `${tenantId}|${agentId}`;
    const now = this.clock.now().getTime();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.windowMs) return hit.state;
    const state = await this.source.get(tenantId, agentId);
    this.cache.set(key, { state, at: now });
    return state;
  }
}
