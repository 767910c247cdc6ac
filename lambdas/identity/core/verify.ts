/**
 * `verifySvid`: the one JWT-SVID verifier, used by ARX's authorizer, the token endpoint and
 * external enforcement points. Checks, in order: size ≤ 8 KB (before any parsing), exactly three
 * base64url segments, a JSON header with `alg` ES256 (pinned), `typ` JWT, a `kid`, no `crit`; a
 * `sub` that is an ARX SPIFFE id whose trust domain names the tenant whose JWKS holds the `kid`;
 * then jose `jwtVerify` against that tenant's JWKS (issuer, one audience, exp/nbf/iat with ≤ 60 s
 * skew, lifetime ≤ 60 min); finally the revocation list and the agent's credential generation.
 * Any failure is an SvidError; nothing about a refused token is trusted.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../shared/clock.js';
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
  readonly revocation?: { status(tenantId: string, agentId: string): Promise<'revoked' | 'clear' | 'unknown'> };
  /** Current generation and status; null = never rotated nor changed by identity (generation 1, active). */
  readonly agentState?: { get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> };
  readonly clock: Clock;
  /** Cached JWKS lifetime. @default 300_000 */
  readonly jwksMaxAgeMs?: number;
  /** Minimum time between refetches caused by an unknown kid (no refetch storm). @default 10_000 */
  readonly jwksCooldownMs?: number;
}

export interface VerifyOptions {
  /** Required audience; `{ any: true }` accepts any single audience (token exchange only). */
  readonly audience: string | { readonly any: true };
}

interface CachedJwks {
  readonly kids: Set<string>;
  readonly getKey: JWTVerifyGetKey;
  readonly fetchedAt: number;
  /** Loaded because of an unknown kid: further unknown kids wait for the cooldown. */
  readonly viaMiss: boolean;
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
  private readonly jwks = new Map<string, CachedJwks>();
  private readonly inflight = new Map<string, Promise<CachedJwks | null>>();
  constructor(private readonly deps: SvidVerifierDeps) {}

  /** Drops the cached JWKS of a tenant (after a rotation in this process). */
  invalidate(tenantId: string): void {
    this.jwks.delete(tenantId);
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
        kids: new Set((set?.keys ?? []).map((k) => k.kid).filter((k): k is string => typeof k === 'string')),
        getKey: createLocalJWKSet(set ?? { keys: [] }),
        fetchedAt: now,
        viaMiss,
      };
      this.jwks.set(tenantId, entry);
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
    let entry = this.jwks.get(tenantId);
    if (!entry || now - entry.fetchedAt >= (this.deps.jwksMaxAgeMs ?? 300_000)) {
      entry = (await this.load(tenantId)) ?? undefined;
    } else if (!entry.kids.has(kid) && (!entry.viaMiss || now - entry.fetchedAt >= (this.deps.jwksCooldownMs ?? 10_000))) {
      entry = (await this.load(tenantId, true)) ?? undefined;
    }
    if (!entry || !entry.kids.has(kid)) throw new SvidError('unknown_kid', 'the key id is not published for the subject tenant');
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
    if (header.crit !== undefined) throw new SvidError('crit_unsupported', 'no critical header parameters are understood');
    if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 128) {
      throw new SvidError('missing_kid', 'kid is required');
    }
    const claimsPreview = decodeSegment(parts[1]!, 'payload');
    const subject = parseSpiffeId(claimsPreview.sub);
    if (!subject) throw new SvidError('bad_subject', 'sub is not an ARX SPIFFE id');
    // The trust domain in sub picks the JWKS: a kid of another tenant is simply unknown here.
    const keys = await this.keysFor(subject.tenantId, header.kid);

    let claims: SvidClaims;
    try {
      const r = await jwtVerify(token, keys.getKey, {
        algorithms: [SVID_ALG],
        typ: SVID_TYP,
        issuer: issuerOf(this.deps.issuerBase, subject.tenantId),
        ...(typeof opts.audience === 'string' ? { audience: opts.audience } : {}),
        clockTolerance: CLOCK_SKEW_S,
        maxTokenAge: SVID_MAX_TTL_S,
        currentDate: this.deps.clock.now(),
        requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti'],
        crit: {},
      });
      claims = r.payload as unknown as SvidClaims;
    } catch (e) {
      throw mapJoseError(e);
    }
    if (typeof claims.aud !== 'string' || claims.aud.length === 0) throw new SvidError('wrong_audience', 'exactly one audience is required');
    if (typeof claims.jti !== 'string' || claims.jti.length === 0) throw new SvidError('invalid_claims', 'jti is required');
    if (claims.exp - claims.iat > SVID_MAX_TTL_S) throw new SvidError('invalid_claims', 'lifetime exceeds 60 minutes');
    if (typeof claims.owner_sub !== 'string' || !Number.isSafeInteger(claims.gen) || claims.gen < 1) {
      throw new SvidError('invalid_claims', 'owner_sub and gen are required');
    }
    if (claims.scope !== undefined && typeof claims.scope !== 'string') throw new SvidError('invalid_claims', 'scope must be a string');

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
        if (state.status === 'revoked' || state.status === 'terminated') throw new SvidError('revoked', `the agent is ${state.status}`);
        if (state.status !== 'active') throw new SvidError('inactive', `the agent is ${state.status}`);
        if (claims.gen !== state.generation) throw new SvidError('stale_generation', 'the agent credential was rotated');
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

function mapJoseError(e: unknown): SvidError {
  const code = (e as { code?: string }).code ?? '';
  const claim = (e as { claim?: string }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new SvidError('expired', 'token expired', { cause: e });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new SvidError('invalid_signature', 'signature verification failed', { cause: e });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new SvidError('unsupported_alg', 'only ES256 is accepted', { cause: e });
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new SvidError('crit_unsupported', 'unsupported token feature', { cause: e });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new SvidError('unknown_kid', 'no matching key', { cause: e });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'aud') return new SvidError('wrong_audience', 'audience mismatch', { cause: e });
      if (claim === 'nbf' || claim === 'iat') return new SvidError('not_yet_valid', `${claim} check failed`, { cause: e });
      return new SvidError('invalid_claims', `claim ${claim ?? '?'} check failed`, { cause: e });
    default:
      return new SvidError('malformed', 'token could not be verified', { cause: e });
  }
}

/**
 * Agent credential state with the same bounded staleness as the revocation list (default 1 s).
 * A read failure beyond the window propagates (callers fail closed).
 */
export class CachedAgentState {
  private readonly cache = new Map<string, { state: AgentCredentialState | null; at: number }>();
  constructor(
    private readonly source: { get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> },
    private readonly clock: Clock,
    private readonly windowMs = 1000,
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
