/**
 * RFC 8693 token exchange and the RFC 6749 §6 refresh grant at `POST /v1/identity/token`. Subject tokens:
 *  - `urn:arx:params:oauth:token-type:bootstrap`: the agent's one-time bootstrap token (single use);
 *  - `urn:ietf:params:oauth:token-type:jwt`: an ARX SVID, to narrow audience or scope. The result
 *    never exceeds its parent: same agent and generation, scope ⊆ parent scope, audience equal to
 *    the parent's (or any single target when the parent is the agent's ARX SVID), exp ≤ parent exp.
 * The bootstrap exchange also answers a `refresh_token`: opaque, stored only as its SHA-256, bound to
 * the tenant, agent and credential generation, and valid until an absolute deadline counted from the
 * bootstrap (`refreshTtlS`). `grant_type=refresh_token` spends it for a new SVID and a new refresh
 * token (rotation); reusing a spent one revokes every refresh token of that bootstrap (the family)
 * and answers `invalid_grant` (RFC 9700 §4.14.2 reuse detection), with one exception: within
 * `refreshGraceS` of its rotation, the token spent last may be presented once more (a client whose
 * refresh response was lost retries with it); that answers a fresh pair of the same family and
 * spends the successor the client never saw, so a second use of either is a reuse again.
 * Every issuance and every detected reuse is an audit event (`token.issued`, `token.refresh_reuse`),
 * committed in the same transaction as the state change it records (the transactional outbox).
 * Errors are RFC 6749 §5.2 / RFC 8693 §2.2.2 codes; nothing is issued on any error.
 */
import type { Clock } from '../../shared/clock.js';
import type { OutboxEntry, StagedEventSink } from '../../shared/events.js';
import { newId, newSecret, sha256Hex } from '../../shared/ids.js';
import type { AgentRecord, ExtraPut, TraceIds } from '../../shared/ports.js';
import { ARX_AUDIENCE, isValidAudience, parseScope, type MintedSvid, type MintRequest } from './svid.js';
import { SvidError, type VerifiedSvid, type VerifyOptions } from './verify.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_BOOTSTRAP = 'urn:arx:params:oauth:token-type:bootstrap';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const GRANT_REFRESH_TOKEN = 'refresh_token';
/** Prefix of refresh tokens (secret scanners and log scrubbers key on it). */
export const REFRESH_TOKEN_PREFIX = 'arxrt';
/** Default absolute lifetime of a refresh token family: 30 days from the bootstrap exchange. */
export const REFRESH_TTL_S_DEFAULT = 30 * 24 * 3600;
/** Longest grace window for presenting the previous refresh token again (see `refreshGraceS`). */
export const REFRESH_GRACE_MAX_S = 300;

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'temporarily_unavailable';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  temporarily_unavailable: 503,
};

/** An RFC 6749 §5.2 error response. `description` reaches the client: never internal detail. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly status: number;
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(description, options);
    this.status = STATUS[error];
  }
  toBody(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export interface TokenResponse {
  access_token: string;
  issued_token_type: typeof TOKEN_TYPE_JWT;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  /** Answered by the bootstrap exchange and by the refresh grant, never by an SVID exchange. */
  refresh_token?: string;
}

export interface BootstrapLookup {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly generation: number;
  readonly used: boolean;
  readonly expires_at: string;
}

/** A refresh token as stored: everything but the token itself (only its SHA-256 is the key). */
export interface RefreshTokenRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly generation: number;
  /** Every refresh token descending from one bootstrap exchange shares it. */
  readonly family_id: string;
  readonly audience: string;
  readonly scope: readonly string[] | null;
  /** The family's absolute deadline (rotation never extends it). */
  readonly expires_at: string;
}

export interface RefreshTokenLookup extends RefreshTokenRecord {
  readonly used: boolean;
  /** The family was revoked (a spent token of it was presented again), or is gone. */
  readonly family_revoked: boolean;
  /** When a spent token was spent (ISO 8601). */
  readonly used_at?: string;
  /** SHA-256 of the token that replaced a spent one. */
  readonly replaced_by?: string;
  /** A spent token that can no longer be presented in the grace window (it already was, or it was superseded). */
  readonly grace_used?: boolean;
}

/** Port: refresh tokens and their families (the adapter keeps them in the control table). */
export interface RefreshTokenStore {
  find(tokenHash: string): Promise<RefreshTokenLookup | null>;
  /** Items that start a family with its first token; committed with the bootstrap consume. */
  start(tokenHash: string, rec: RefreshTokenRecord, now: Date): readonly ExtraPut[];
  /**
   * Atomically spends `oldHash` (unused, unexpired, family not revoked), stores `next` and commits
   * `events`. False, with nothing written, when any of those conditions fails.
   */
  rotate(
    oldHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    events: readonly OutboxEntry[],
  ): Promise<boolean>;
  /**
   * The grace re-grant, atomically: `oldHash` is spent, was replaced by `lostHash`, was spent at or
   * after `spentSince` and had no re-grant yet; `lostHash` is unused. Marks the re-grant used on
   * `oldHash`, spends `lostHash` (it can never be re-granted), stores `next`, commits `events`.
   * False, with nothing written, when any condition fails (or the family is revoked).
   */
  regrant(
    oldHash: string,
    lostHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    spentSince: Date,
    events: readonly OutboxEntry[],
  ): Promise<boolean>;
  /**
   * Revokes the family (none of its tokens refreshes again) with `events` in the same write, then
   * deletes its tokens and the family. Idempotent.
   */
  revokeFamily(familyId: string, now: Date, events: readonly OutboxEntry[]): Promise<void>;
}

/** What the token endpoint issued: the detail of a `token.issued` audit event (no token material). */
export interface TokenIssued {
  readonly grant: 'bootstrap' | 'svid' | 'refresh_token';
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly generation: number;
  readonly jti: string;
  readonly audience: string;
  readonly expires_at: string;
  readonly scope?: string;
  readonly refresh_family?: string;
  /** A grace re-grant: the previous refresh token presented again within the grace window. */
  readonly grace?: true;
}

/** A refused refresh that revoked its family: the detail of a `token.refresh_reuse` audit event. */
export interface RefreshReuse {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly refresh_family: string;
}

export const TOKEN_ISSUED = 'token.issued' as const;
export const TOKEN_REFRESH_REUSE = 'token.refresh_reuse' as const;

export interface TokenExchangeDeps {
  readonly bootstrap: {
    find(tokenHash: string): Promise<BootstrapLookup | null>;
    /** Spends the token; `also` (the refresh token family) and `events` are written in the same transaction. */
    consume(
      tokenHash: string,
      now: Date,
      also?: readonly ExtraPut[],
      events?: readonly OutboxEntry[],
    ): Promise<boolean>;
  };
  /** Refresh tokens; without it no refresh token is issued and the refresh grant is unsupported. */
  readonly refresh?: RefreshTokenStore;
  /** Absolute lifetime of a refresh token family (seconds from the bootstrap exchange). */
  readonly refreshTtlS?: number;
  /**
   * Seconds after a rotation during which the token it spent may be presented once more (a lost
   * response, retried). 0 turns it off; capped at {@link REFRESH_GRACE_MAX_S}. @default 0
   */
  readonly refreshGraceS?: number;
  /** The revocation list: an agent on it gets no new SVID from a refresh token. */
  readonly revocations?: { get(tenantId: string, agentId: string, now: Date): Promise<unknown> };
  /**
   * The audit trail (the control table's outbox): `token.issued` per token and `token.refresh_reuse`
   * per revoked family are committed with the write that issues or revokes, then published; an SVID
   * exchange writes nothing else, so its event is staged before the token is answered. Without it
   * nothing is audited (unit tests of other behaviour).
   */
  readonly events?: StagedEventSink;
  readonly agents: { get(tenantId: string, agentId: string): Promise<AgentRecord | null> };
  readonly verifier: { verify(token: string, opts: VerifyOptions): Promise<VerifiedSvid> };
  readonly issuer: { mint(req: MintRequest): Promise<MintedSvid> };
  readonly clock: Clock;
  /** Lifetime of SVIDs issued here (≤ 3600). */
  readonly ttlS?: number;
}

export interface TokenRequestMeta {
  readonly contentType?: string;
  readonly authorization?: string;
}

const KNOWN_PARAMS = new Set([
  'grant_type',
  'subject_token',
  'subject_token_type',
  'audience',
  'resource',
  'scope',
  'requested_token_type',
  'actor_token',
  'actor_token_type',
  'client_id',
  'refresh_token',
]);

/** Parses an `application/x-www-form-urlencoded` body; a repeated parameter is invalid (RFC 6749 §3.2). */
export function parseTokenForm(raw: string, meta: TokenRequestMeta): Record<string, string> {
  if (meta.authorization && /^basic\s/i.test(meta.authorization.trim())) {
    throw new OAuthError(
      'invalid_client',
      'this endpoint authenticates the subject token; client authentication is not supported',
    );
  }
  const ctype = (meta.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ctype !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    if (seen.has(k)) throw new OAuthError('invalid_request', 'a parameter is repeated');
    seen.add(k);
    if (KNOWN_PARAMS.has(k)) out[k] = v;
  }
  return out;
}

function requireParam(form: Record<string, string>, name: string): string {
  const v = form[name];
  if (v === undefined || v === '') throw new OAuthError('invalid_request', `missing ${name}`);
  return v;
}

/**
 * Performs one token exchange. The bootstrap token is consumed only after the new SVID is
 * signed, so a signing outage does not burn it; a concurrent second use loses the conditional
 * consume and gets `invalid_grant`.
 */
export async function exchangeToken(
  deps: TokenExchangeDeps,
  form: Record<string, string>,
  trace?: TraceIds,
): Promise<TokenResponse> {
  const grant = requireParam(form, 'grant_type');
  if (grant === GRANT_REFRESH_TOKEN && deps.refresh) return refreshGrant(deps, deps.refresh, form, trace);
  if (grant !== GRANT_TOKEN_EXCHANGE)
    throw new OAuthError('unsupported_grant_type', 'the grant types are token exchange (RFC 8693) and refresh_token');
  const subjectToken = requireParam(form, 'subject_token');
  const subjectType = requireParam(form, 'subject_token_type');
  if (form.actor_token !== undefined || form.actor_token_type !== undefined) {
    throw new OAuthError('invalid_request', 'delegation (actor_token) is not supported');
  }
  if (form.requested_token_type !== undefined && form.requested_token_type !== TOKEN_TYPE_JWT) {
    throw new OAuthError('invalid_request', `requested_token_type must be ${TOKEN_TYPE_JWT}`);
  }
  if (form.audience !== undefined && form.resource !== undefined && form.audience !== form.resource) {
    throw new OAuthError('invalid_target', 'one target only: audience and resource differ');
  }
  const target = form.audience ?? form.resource;
  if (target !== undefined && !isValidAudience(target))
    throw new OAuthError('invalid_target', 'the audience is not an acceptable target');
  let scope: string[] | null = null;
  if (form.scope !== undefined) {
    scope = parseScope(form.scope);
    if (!scope) throw new OAuthError('invalid_scope', 'scope is malformed');
  }

  switch (subjectType) {
    case TOKEN_TYPE_BOOTSTRAP:
      return fromBootstrap(deps, subjectToken, target ?? ARX_AUDIENCE, scope, form.client_id, trace);
    case TOKEN_TYPE_JWT:
      return fromSvid(deps, subjectToken, target, scope, form.client_id, trace);
    default:
      throw new OAuthError('invalid_request', 'unsupported subject_token_type');
  }
}

async function fromBootstrap(
  deps: TokenExchangeDeps,
  token: string,
  audience: string,
  scope: string[] | null,
  clientId: string | undefined,
  trace: TraceIds | undefined,
): Promise<TokenResponse> {
  if (token.length > 512) throw new OAuthError('invalid_grant', 'the bootstrap token is invalid');
  const hash = sha256Hex(token);
  const now = deps.clock.now();
  const boot = await deps.bootstrap.find(hash);
  if (!boot || boot.used || Date.parse(boot.expires_at) <= now.getTime()) {
    throw new OAuthError('invalid_grant', 'the bootstrap token is invalid, expired or already used');
  }
  if (clientId !== undefined && clientId !== boot.agent_id)
    throw new OAuthError('invalid_client', 'client_id does not match the subject');
  const agent = await deps.agents.get(boot.tenant_id, boot.agent_id);
  if (agent?.status !== 'active') throw new OAuthError('invalid_grant', 'the agent is not active');
  if (agent.credential_generation !== boot.generation)
    throw new OAuthError('invalid_grant', 'the bootstrap token was superseded by a rotation');
  const minted = await deps.issuer.mint({
    tenantId: agent.tenant_id,
    platform: agent.platform,
    agentId: agent.agent_id,
    ownerSub: agent.owner.oidc_sub,
    generation: agent.credential_generation,
    audience,
    scope,
    ttlS: deps.ttlS,
  });
  let refreshToken: string | undefined;
  let family: string | undefined;
  let also: readonly ExtraPut[] | undefined;
  if (deps.refresh) {
    refreshToken = newSecret(REFRESH_TOKEN_PREFIX);
    family = sha256Hex(`family:${hash}`).slice(0, 32);
    const ttl = deps.refreshTtlS ?? REFRESH_TTL_S_DEFAULT;
    also = deps.refresh.start(
      sha256Hex(refreshToken),
      {
        tenant_id: agent.tenant_id,
        agent_id: agent.agent_id,
        generation: agent.credential_generation,
        family_id: family,
        audience,
        scope,
        expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
      },
      now,
    );
  }
  const events = deps.events ? [issuedEvent(issuedOf('bootstrap', agent, minted, family), trace, now)] : [];
  if (!(await deps.bootstrap.consume(hash, now, also, events))) {
    throw new OAuthError('invalid_grant', 'the bootstrap token is invalid, expired or already used');
  }
  await deps.events?.flush(events);
  return respond(minted, refreshToken);
}

const REFRESH_INVALID = 'the refresh token is invalid, expired or already used';

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2). The presented token is spent only after the new SVID
 * is signed (a signing outage burns nothing), in one transaction with its successor. A token that was
 * already spent, seen again, revokes its family: whoever holds the newest token loses it too, which is
 * the point (one of the two holders is not the agent). The one exception is the grace re-grant (see
 * the module comment): the token spent last, presented again within `refreshGraceS` of its rotation,
 * once. An attacker replaying it in that window gains nothing lasting: the agent's own successor is
 * spent by the re-grant, so the agent's next refresh is a reuse that revokes the family. Every refusal
 * is `invalid_grant` with one description, so the answer does not tell a guesser which check failed.
 */
async function refreshGrant(
  deps: TokenExchangeDeps,
  store: RefreshTokenStore,
  form: Record<string, string>,
  trace: TraceIds | undefined,
): Promise<TokenResponse> {
  const token = requireParam(form, 'refresh_token');
  for (const p of ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type']) {
    if (form[p] !== undefined) throw new OAuthError('invalid_request', `${p} is not a refresh_token parameter`);
  }
  let scope: string[] | null = null;
  if (form.scope !== undefined) {
    scope = parseScope(form.scope);
    if (!scope) throw new OAuthError('invalid_scope', 'scope is malformed');
  }
  if (token.length > 512 || !token.startsWith(`${REFRESH_TOKEN_PREFIX}_`))
    throw new OAuthError('invalid_grant', REFRESH_INVALID);
  const hash = sha256Hex(token);
  const now = deps.clock.now();
  const graceS = Math.min(Math.max(deps.refreshGraceS ?? 0, 0), REFRESH_GRACE_MAX_S);
  const spentSince = new Date(now.getTime() - graceS * 1000);
  const inGrace = (t: RefreshTokenLookup): boolean =>
    graceS > 0 &&
    t.used &&
    !t.grace_used &&
    t.replaced_by !== undefined &&
    t.used_at !== undefined &&
    Date.parse(t.used_at) >= spentSince.getTime();
  const found = await store.find(hash);
  if (!found || found.family_revoked) throw new OAuthError('invalid_grant', REFRESH_INVALID);
  let rt: RefreshTokenLookup = found;
  if (rt.used && !inGrace(rt)) return reuse(deps, store, rt, trace, now);
  if (Date.parse(rt.expires_at) <= now.getTime()) throw new OAuthError('invalid_grant', REFRESH_INVALID);
  if (form.client_id !== undefined && form.client_id !== rt.agent_id)
    throw new OAuthError('invalid_client', 'client_id does not match the refresh token');
  const target = form.audience ?? form.resource;
  if ((target !== undefined && target !== rt.audience) || (form.resource ?? target) !== target)
    throw new OAuthError('invalid_target', 'a refresh token is for the audience it was issued for');
  if (scope && rt.scope && !scope.every((s) => rt.scope!.includes(s)))
    throw new OAuthError('invalid_scope', 'the requested scope exceeds the refresh token scope');
  const agent = await deps.agents.get(rt.tenant_id, rt.agent_id);
  if (
    agent?.status !== 'active' ||
    agent.tenant_id !== rt.tenant_id ||
    agent.agent_id !== rt.agent_id ||
    agent.credential_generation !== rt.generation
  ) {
    throw new OAuthError('invalid_grant', REFRESH_INVALID);
  }
  if (deps.revocations && (await deps.revocations.get(rt.tenant_id, rt.agent_id, now)))
    throw new OAuthError('invalid_grant', REFRESH_INVALID);
  const minted = await deps.issuer.mint({
    tenantId: agent.tenant_id,
    platform: agent.platform,
    agentId: agent.agent_id,
    ownerSub: agent.owner.oidc_sub,
    generation: agent.credential_generation,
    audience: rt.audience,
    scope: scope ?? (rt.scope ? [...rt.scope] : null),
    ttlS: deps.ttlS,
  });
  const next = newSecret(REFRESH_TOKEN_PREFIX);
  const nextHash = sha256Hex(next);
  const { used: _u, family_revoked: _r, used_at: _a, replaced_by: _b, grace_used: _g, ...record } = rt;
  for (let attempt = 0; ; attempt++) {
    const grace: boolean = rt.used;
    const issued = issuedOf('refresh_token', agent, minted, rt.family_id, grace);
    const events = deps.events ? [issuedEvent(issued, trace, now)] : [];
    const ok = grace
      ? await store.regrant(hash, rt.replaced_by!, nextHash, record, now, spentSince, events)
      : await store.rotate(hash, nextHash, record, now, events);
    if (ok) {
      await deps.events?.flush(events);
      return respond(minted, next);
    }
    // Another use of this token committed first, or the family was revoked meanwhile. A client
    // that retried while its first request was still running gets the grace re-grant (once);
    // anything else is a reuse.
    const again: RefreshTokenLookup | null = attempt === 0 && !grace ? await store.find(hash) : null;
    if (again && !again.family_revoked && inGrace(again)) {
      rt = again;
      continue;
    }
    return reuse(deps, store, rt, trace, now);
  }
}

/** A spent token seen again: revoke its family (audited with the revocation) and refuse. */
async function reuse(
  deps: TokenExchangeDeps,
  store: RefreshTokenStore,
  rt: RefreshTokenLookup,
  trace: TraceIds | undefined,
  now: Date,
): Promise<never> {
  const detail: RefreshReuse = { tenant_id: rt.tenant_id, agent_id: rt.agent_id, refresh_family: rt.family_id };
  const events: OutboxEntry[] = deps.events
    ? [{ detailType: TOKEN_REFRESH_REUSE, detail: { ...eventBase(rt.tenant_id, trace, now), ...detail } }]
    : [];
  await store.revokeFamily(rt.family_id, now, events);
  await deps.events?.flush(events);
  throw new OAuthError('invalid_grant', REFRESH_INVALID);
}

function eventBase(tenantId: string, trace: TraceIds | undefined, now: Date) {
  const eventId = newId('evt', now);
  return {
    event_id: eventId,
    tenant_id: tenantId,
    correlation_id: trace?.correlationId ?? eventId,
    trace_id: trace?.traceId ?? '0'.repeat(32),
    at: now.toISOString(),
  };
}

function issuedEvent(e: TokenIssued, trace: TraceIds | undefined, now: Date): OutboxEntry {
  return { detailType: TOKEN_ISSUED, detail: { ...eventBase(e.tenant_id, trace, now), ...e } };
}

function issuedOf(
  grant: TokenIssued['grant'],
  who: { tenant_id: string; agent_id: string },
  m: MintedSvid,
  family: string | undefined,
  grace = false,
): TokenIssued {
  return {
    grant,
    tenant_id: who.tenant_id,
    agent_id: who.agent_id,
    generation: m.claims.gen,
    jti: m.claims.jti,
    audience: m.claims.aud,
    expires_at: new Date(m.claims.exp * 1000).toISOString(),
    ...(m.claims.scope ? { scope: m.claims.scope } : {}),
    ...(family ? { refresh_family: family } : {}),
    ...(grace ? { grace: true as const } : {}),
  };
}

async function fromSvid(
  deps: TokenExchangeDeps,
  token: string,
  target: string | undefined,
  scope: string[] | null,
  clientId: string | undefined,
  trace: TraceIds | undefined,
): Promise<TokenResponse> {
  let parent: VerifiedSvid;
  try {
    parent = await deps.verifier.verify(token, { audience: { any: true } });
  } catch (e) {
    if (e instanceof SvidError && (e.reason === 'keys_unavailable' || e.reason === 'revocation_unavailable')) {
      throw new OAuthError('temporarily_unavailable', 'the subject token cannot be checked right now', { cause: e });
    }
    throw new OAuthError('invalid_grant', 'the subject token is invalid', { cause: e });
  }
  if (clientId !== undefined && clientId !== parent.agentId)
    throw new OAuthError('invalid_client', 'client_id does not match the subject');
  const audience = target ?? parent.audience;
  if (parent.audience !== ARX_AUDIENCE && audience !== parent.audience) {
    throw new OAuthError('invalid_target', 'an SVID for a target can only be exchanged for the same target');
  }
  let granted: string[] | null = parent.scope ? [...parent.scope] : null;
  if (scope) {
    if (parent.scope && !scope.every((s) => parent.scope!.includes(s))) {
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the subject token scope');
    }
    granted = scope;
  }
  const agent = await deps.agents.get(parent.tenantId, parent.agentId);
  if (agent?.status !== 'active' || agent.credential_generation !== parent.generation) {
    throw new OAuthError('invalid_grant', 'the subject token is invalid');
  }
  const minted = await deps.issuer.mint({
    tenantId: parent.tenantId,
    platform: parent.platform,
    agentId: parent.agentId,
    ownerSub: parent.ownerSub,
    generation: parent.generation,
    audience,
    scope: granted,
    ttlS: deps.ttlS,
    notAfter: parent.exp,
    parentJti: parent.jti,
  });
  if (deps.events) {
    // No other state changes: the event is committed on its own before the token is answered.
    const now = deps.clock.now();
    const who = { tenant_id: parent.tenantId, agent_id: parent.agentId };
    const events = [issuedEvent(issuedOf('svid', who, minted, undefined), trace, now)];
    await deps.events.stage(events, now.toISOString());
    await deps.events.flush(events);
  }
  return respond(minted);
}

function respond(m: MintedSvid, refreshToken?: string): TokenResponse {
  return {
    access_token: m.token,
    issued_token_type: TOKEN_TYPE_JWT,
    token_type: 'Bearer',
    expires_in: m.expires_in,
    ...(m.claims.scope ? { scope: m.claims.scope } : {}),
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
  };
}
