/**
 * RFC 8693 token exchange at `POST /v1/identity/token`. Subject tokens:
 *  - `urn:arx:params:oauth:token-type:bootstrap`: the agent's one-time bootstrap token (single use);
 *  - `urn:ietf:params:oauth:token-type:jwt`: an ARX SVID, to narrow audience or scope. The result
 *    never exceeds its parent: same agent and generation, scope ⊆ parent scope, audience equal to
 *    the parent's (or any single target when the parent is the agent's ARX SVID), exp ≤ parent exp.
 * Errors are RFC 6749 §5.2 / RFC 8693 §2.2.2 codes; nothing is issued on any error.
 */
import type { Clock } from '../../shared/clock.js';
import { sha256Hex } from '../../shared/ids.js';
import type { AgentRecord } from '../../shared/ports.js';
import { ARX_AUDIENCE, isValidAudience, parseScope, type MintedSvid, type MintRequest } from './svid.js';
import { SvidError, type VerifiedSvid, type VerifyOptions } from './verify.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_BOOTSTRAP = 'urn:arx:params:oauth:token-type:bootstrap';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

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
}

export interface BootstrapLookup {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly generation: number;
  readonly used: boolean;
  readonly expires_at: string;
}

export interface TokenExchangeDeps {
  readonly bootstrap: {
    find(tokenHash: string): Promise<BootstrapLookup | null>;
    consume(tokenHash: string, now: Date): Promise<boolean>;
  };
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
export async function exchangeToken(deps: TokenExchangeDeps, form: Record<string, string>): Promise<TokenResponse> {
  const grant = requireParam(form, 'grant_type');
  if (grant !== GRANT_TOKEN_EXCHANGE)
    throw new OAuthError('unsupported_grant_type', 'only token exchange (RFC 8693) is supported');
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
      return fromBootstrap(deps, subjectToken, target ?? ARX_AUDIENCE, scope, form.client_id);
    case TOKEN_TYPE_JWT:
      return fromSvid(deps, subjectToken, target, scope, form.client_id);
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
  if (!(await deps.bootstrap.consume(hash, now))) {
    throw new OAuthError('invalid_grant', 'the bootstrap token is invalid, expired or already used');
  }
  return respond(minted);
}

async function fromSvid(
  deps: TokenExchangeDeps,
  token: string,
  target: string | undefined,
  scope: string[] | null,
  clientId: string | undefined,
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
  return respond(minted);
}

function respond(m: MintedSvid): TokenResponse {
  return {
    access_token: m.token,
    issued_token_type: TOKEN_TYPE_JWT,
    token_type: 'Bearer',
    expires_in: m.expires_in,
    ...(m.claims.scope ? { scope: m.claims.scope } : {}),
  };
}
