/**
 * Credential broker (seed C2.2, zero standing privilege): after a permit, mints a short-lived
 * target credential for exactly the action's scope. AWS: STS AssumeRole with a session policy
 * narrowed to the action's IAM actions and resources. HTTP connectors: OAuth 2.0 client
 * credentials with an RFC 8707 resource indicator. Credentials are cached in memory for at most
 * 60 s per (agent, target, scope); STS credentials are never persisted, OAuth access tokens are
 * kept only until they expire, so that termination can revoke them. CredentialBinding rows record
 * only what kind of credential was issued. Every issue — cached or not — first checks the agent is still
 * active (revocation list + credential state), so a revocation anywhere stops cached bindings
 * within the revocation cache window; `revokeAgentCredentials` also evicts this process's cache.
 *
 * Tenancy (F1): a role is assumed only when it is registered to the caller's tenant (the role
 * registry), with the external id ARX generated for that tenant (never one a caller chose), and
 * the session policy never carries a wildcard outside the vetted allowlist. OAuth (F12b): the
 * client secret must live under `arx/<tenant>/oauth/` and the token endpoint must be on the
 * tenant's allowlist. Revocation (F6): every registered role of the tenant gets a deny on
 * `aws:SourceIdentity=<agent>` for sessions issued before now, and every OAuth access token the
 * broker issued to the agent is revoked at its authorization server (RFC 7009).
 */
import type { Clock } from '../../shared/clock.js';
import { DependencyError, ForbiddenError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { canonicalJson, sha256Hex } from '../../shared/ids.js';

/** Seed C2.2: hot-path credential cache TTL ≤ 60 s. */
export const CREDENTIAL_CACHE_MAX_MS = 60_000;
/** Shortest STS session (AWS minimum). */
export const STS_MIN_DURATION_S = 900;

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export interface StsPort {
  assumeRole(req: {
    roleArn: string;
    sessionName: string;
    policy: string;
    durationSeconds: number;
    externalId?: string;
    sourceIdentity?: string;
  }): Promise<AwsCredentials & { expiration: Date }>;
}

export interface OAuthTokenResult {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly scope?: string;
}
export interface OAuthPort {
  clientCredentials(req: {
    tokenEndpoint: string;
    clientId: string;
    clientSecret: string;
    scope?: string;
    resource: string;
  }): Promise<OAuthTokenResult>;
  /** RFC 7009 token revocation (client_secret_basic). Resolves when the server answered 200. */
  revoke?(req: {
    revocationEndpoint: string;
    clientId: string;
    clientSecret: string;
    token: string;
    tokenTypeHint: 'access_token';
  }): Promise<void>;
}

/** A role registered to one tenant (`PUT /v1/credentials/roles/{name}`). */
export interface RegisteredRole {
  readonly tenant_id: string;
  readonly name: string;
  readonly role_arn: string;
  readonly description?: string;
  readonly updated_at: string;
  readonly updated_by: string;
}

/** A token endpoint on a tenant's allowlist (`PUT /v1/credentials/token-endpoints/{name}`). */
export interface AllowedTokenEndpoint {
  readonly tenant_id: string;
  readonly name: string;
  readonly token_endpoint: string;
  /** RFC 7009 endpoint used at termination; without it issued tokens can only expire. */
  readonly revocation_endpoint?: string;
  readonly updated_at: string;
  readonly updated_by: string;
}

/** What the broker needs from the per-tenant registry (roles, external id, token endpoints). */
export interface CredentialRegistryPort {
  roleByName(tenantId: string, name: string): Promise<RegisteredRole | null>;
  roleByArn(tenantId: string, roleArn: string): Promise<RegisteredRole | null>;
  listRoles(tenantId: string): Promise<RegisteredRole[]>;
  /** The tenant's ARX-generated external id, created on first use. */
  externalId(tenantId: string): Promise<string>;
  tokenEndpoint(tenantId: string, url: string): Promise<AllowedTokenEndpoint | null>;
}

/** An OAuth access token the broker handed out, kept until it expires so it can be revoked. */
export interface IssuedTokenRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly token_id: string;
  readonly access_token: string;
  readonly token_endpoint: string;
  readonly revocation_endpoint?: string;
  readonly client_id: string;
  readonly client_secret_id: string;
  readonly expires_at: string;
}
export interface IssuedTokenPort {
  record(r: IssuedTokenRecord): Promise<void>;
  list(tenantId: string, agentId: string): Promise<IssuedTokenRecord[]>;
  remove(tenantId: string, agentId: string, tokenId: string): Promise<void>;
}

/** Denies STS sessions of one source identity issued before a time, on one role (revoke-older-sessions). */
export interface SessionRevokerPort {
  denyOlderSessions(req: {
    roleArn: string;
    externalId: string;
    sourceIdentity: string;
    issuedBefore: Date;
  }): Promise<void>;
}

export interface CredentialBindingRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly binding_id: string;
  readonly target_platform: string;
  readonly scope_template: string;
  readonly issuer_role: string;
  readonly max_ttl_seconds: number;
  readonly last_issued_at: string;
}
export interface BindingPort {
  record(b: CredentialBindingRecord): Promise<void>;
  revokeAll(tenantId: string, agentId: string): Promise<number>;
}

export interface BrokerDeps {
  readonly sts: StsPort;
  readonly oauth: OAuthPort;
  readonly bindings: BindingPort;
  /** 'active' or why not; 'unknown' (state unreadable) is refused — fail closed. */
  readonly agentStatus: (tenantId: string, agentId: string) => Promise<'active' | 'inactive' | 'unknown'>;
  readonly clock: Clock;
  readonly registry: CredentialRegistryPort;
  readonly issuedTokens: IssuedTokenPort;
  readonly sessions: SessionRevokerPort;
  /** The agent's refresh token families (deleted with its other credentials); omitted in tests of other parts. */
  readonly refreshTokens?: { revokeAgent(tenantId: string, agentId: string): Promise<number> };
  /** Reads a client secret by Secrets Manager id (called only after the tenant prefix check). */
  readonly secrets: (secretId: string) => Promise<string>;
  /** Plain http to loopback token endpoints: only in the local runtime and tests, never deployed. */
  readonly allowLoopback?: boolean;
}

/** Registry name used when a request names no role. */
export const DEFAULT_ROLE_NAME = 'default';

export interface AwsCredentialRequest {
  tenantId: string;
  agentId: string;
  actionId?: string;
  /** IAM actions the session may use, e.g. `iam:DeleteUser`. */
  actions: readonly string[];
  /** Resource ARNs the session may touch; wildcards are refused outside the vetted allowlist. */
  resources: readonly string[];
  /** A role ARN registered to the tenant (e.g. the aws connector's `role_arn`). */
  roleArn?: string;
  /** A registry name; `default` when neither this nor `roleArn` is given. */
  roleName?: string;
  /** Ignored: the external id is always the one ARX generated for the tenant (F1). */
  externalId?: string;
}

export interface OAuthCredentialRequest {
  tenantId: string;
  agentId: string;
  tokenEndpoint: string;
  clientId: string;
  /** Secrets Manager id of the client secret: must be `arx/<tenant>/oauth/…`. */
  clientSecretId: string;
  /** RFC 8707 resource indicator: the target API (absolute URI, no fragment). */
  resource: string;
  scope?: readonly string[];
}

/** The seed's response shape of `POST /v1/credentials/issue`. */
export interface IssuedCredential {
  readonly token: Record<string, unknown>;
  readonly expires_at: string;
  readonly audience: string;
  readonly scope_actually_granted: unknown;
  readonly cached: boolean;
}

/** Exact IAM action names only: no `*` or `?` anywhere (F1). */
const IAM_ACTION = /^[a-z0-9-]{2,64}:[A-Za-z0-9]{1,128}$/;
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,128}$/;

/**
 * The vetted wildcard allowlist (F1): the only `*` a resource ARN may carry is the account field
 * of an IAM user/role ARN naming exactly one principal; the broker replaces it with the account
 * of the assumed role, so the session policy sent to STS carries no wildcard at all.
 */
export const VETTED_RESOURCE_WILDCARDS: readonly { readonly pattern: RegExp; readonly reason: string }[] = [
  {
    pattern: /^arn:(aws[a-z-]*):iam::\*:(user|role)\/[\w+=,.@/-]{1,128}$/,
    reason: 'one named IAM principal in the account of the assumed role',
  },
];

/** Resolves a resource ARN against the assumed role's account; throws on any other wildcard. */
export function resolveResource(resource: string, roleAccount: string): string {
  if (!resource.startsWith('arn:') || resource.length > 2048 || /\s/.test(resource))
    throw new ValidationError('resources must be ARNs');
  if (!/[*?]/.test(resource)) return resource;
  if (VETTED_RESOURCE_WILDCARDS.some((w) => w.pattern.test(resource)))
    return resource.replace(':iam::*:', `:iam::${roleAccount}:`);
  throw new ValidationError('wildcards ("*", "?") are refused in resource ARNs');
}

/** The session policy for one action: exactly its IAM actions on exactly its resources. */
export function sessionPolicy(actions: readonly string[], resources: readonly string[], roleAccount = ''): string {
  if (actions.length === 0 || actions.length > 20 || actions.some((a) => !IAM_ACTION.test(a))) {
    throw new ValidationError('actions must be 1–20 exact service:Action names (no wildcards)');
  }
  if (resources.length === 0 || resources.length > 20) throw new ValidationError('resources must be 1–20 ARNs');
  const resolved = resources.map((r) => resolveResource(r, roleAccount));
  if (resolved.some((r) => /[*?]/.test(r)))
    throw new ValidationError('wildcards ("*", "?") are refused in resource ARNs');
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ArxActionScope',
        Effect: 'Allow',
        Action: [...new Set(actions)].sort(),
        Resource: [...new Set(resolved)].sort(),
      },
    ],
  });
}

function isResourceIndicator(r: string): boolean {
  try {
    const u = new URL(r);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !r.includes('#');
  } catch {
    return false;
  }
}

/** https; plain http to loopback only when `allowLoopback` (local runtime and tests). */
export function isTokenEndpoint(u: string, allowLoopback: boolean): boolean {
  if (!isResourceIndicator(u)) return false;
  return u.startsWith('https:') || (allowLoopback && /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u));
}

/** What a revocation did (the kill switch's credential step reports it). */
export interface CredentialRevocationResult {
  readonly cache_evicted: number;
  readonly bindings_revoked: number;
  /** Registered roles that now deny the agent's older STS sessions. */
  readonly sessions_denied_roles: number;
  /** OAuth access tokens revoked at their authorization server (RFC 7009). */
  readonly oauth_tokens_revoked: number;
  /** Issued OAuth tokens whose endpoint has no revocation endpoint: they only expire. */
  readonly oauth_tokens_unrevocable: number;
  /** ARX refresh tokens of the agent deleted (every family: none could refresh again). */
  readonly refresh_tokens_revoked: number;
}

interface CacheEntry {
  readonly agentKey: string;
  readonly value: IssuedCredential;
  readonly raw: AwsCredentials | OAuthTokenResult;
  readonly until: number;
}

/**
 * @example
 * const broker = new CredentialBroker({ sts, oauth, bindings, agentStatus, registry, issuedTokens, sessions, secrets, clock: systemClock });
 * const creds = await broker.awsCredentials({ tenantId, agentId, actions: ['s3:DeleteBucket'], resources: ['arn:aws:s3:::b'] });
 */
export class CredentialBroker {
  private readonly cache = new Map<string, CacheEntry>();
  constructor(private readonly deps: BrokerDeps) {}

  private async gate(tenantId: string, agentId: string): Promise<void> {
    const st = await this.deps.agentStatus(tenantId, agentId);
    if (st === 'unknown') throw new DependencyError('agent state cannot be checked');
    if (st !== 'active') throw new ForbiddenError('the agent is not active; no credential is issued');
  }

  private hit(key: string): CacheEntry | null {
    const e = this.cache.get(key);
    if (!e) return null;
    if (e.until <= this.deps.clock.now().getTime()) {
      this.cache.delete(key);
      return null;
    }
    return e;
  }

  private put(key: string, agentKey: string, value: IssuedCredential, raw: CacheEntry['raw'], expiresAt: number): void {
    const now = this.deps.clock.now().getTime();
    // Never serve a credential in its last 30 s, never cache longer than 60 s.
    const until = Math.min(now + CREDENTIAL_CACHE_MAX_MS, expiresAt - 30_000);
    if (until > now) this.cache.set(key, { agentKey, value, raw, until });
  }

  /** AWS credentials for one action (the actions capability's CredentialBroker port). */
  async awsCredentials(req: AwsCredentialRequest): Promise<AwsCredentials> {
    const r = await this.issueAws(req);
    return r.raw as AwsCredentials;
  }

  /** The registered role a request may assume: by ARN or by name (`default`), in the caller's tenant only. */
  private async resolveRole(req: AwsCredentialRequest): Promise<RegisteredRole> {
    if (req.roleArn !== undefined && !ROLE_ARN.test(req.roleArn)) throw new ValidationError('role ARN is malformed');
    const role = req.roleArn
      ? await this.deps.registry.roleByArn(req.tenantId, req.roleArn)
      : await this.deps.registry.roleByName(req.tenantId, req.roleName ?? DEFAULT_ROLE_NAME);
    if (!role) throw new ForbiddenError('the role is not registered to this tenant; no credential is issued');
    return role;
  }

  async issueAws(req: AwsCredentialRequest): Promise<{ issued: IssuedCredential; raw: AwsCredentials }> {
    const role = await this.resolveRole(req);
    const roleArn = role.role_arn;
    const account = ROLE_ARN.exec(roleArn)?.[1] ?? '';
    const policy = sessionPolicy(req.actions, req.resources, account);
    await this.gate(req.tenantId, req.agentId);
    const externalId = await this.deps.registry.externalId(req.tenantId);
    const agentKey = `${req.tenantId}|${req.agentId}`;
    const key = sha256Hex(`aws|${agentKey}|${roleArn}|${policy}`);
    const cached = this.hit(key);
    if (cached) return { issued: { ...cached.value, cached: true }, raw: cached.raw as AwsCredentials };
    let creds: AwsCredentials & { expiration: Date };
    try {
      creds = await this.deps.sts.assumeRole({
        roleArn,
        sessionName: `arx-${req.agentId}`.slice(0, 64),
        policy,
        durationSeconds: STS_MIN_DURATION_S,
        externalId,
        sourceIdentity: req.agentId,
      });
    } catch (e) {
      throw new DependencyError('STS did not issue credentials', { cause: e });
    }
    const now = this.deps.clock.now();
    const issued: IssuedCredential = {
      token: {
        access_key_id: creds.accessKeyId,
        secret_access_key: creds.secretAccessKey,
        session_token: creds.sessionToken,
      },
      expires_at: creds.expiration.toISOString(),
      audience: roleArn,
      scope_actually_granted: JSON.parse(policy) as unknown,
      cached: false,
    };
    await this.deps.bindings.record({
      tenant_id: req.tenantId,
      agent_id: req.agentId,
      binding_id: `aws#${key.slice(0, 32)}`,
      target_platform: 'aws',
      scope_template: policy,
      issuer_role: roleArn,
      max_ttl_seconds: STS_MIN_DURATION_S,
      last_issued_at: now.toISOString(),
    });
    this.put(key, agentKey, issued, creds, creds.expiration.getTime());
    return { issued, raw: creds };
  }

  /** OAuth 2.0 client-credentials token bound to one resource (RFC 8707) for an HTTP connector. */
  async issueOAuth(req: OAuthCredentialRequest): Promise<IssuedCredential> {
    if (!isResourceIndicator(req.resource))
      throw new ValidationError('resource must be an absolute http(s) URI without fragment (RFC 8707)');
    if (!isTokenEndpoint(req.tokenEndpoint, this.deps.allowLoopback ?? false)) {
      throw new ValidationError('token_endpoint must be an https URL');
    }
    // F12(b): only the tenant's OAuth client secrets, only to the tenant's allowlisted endpoints.
    const prefix = `arx/${req.tenantId}/oauth/`;
    if (
      !req.clientSecretId.startsWith(prefix) ||
      req.clientSecretId.length === prefix.length ||
      req.clientSecretId.includes('..')
    ) {
      throw new NotFoundError(`no such client secret (OAuth client secrets live under ${prefix})`);
    }
    const endpoint = await this.deps.registry.tokenEndpoint(req.tenantId, req.tokenEndpoint);
    if (!endpoint) throw new ForbiddenError("token_endpoint is not on this tenant's allowlist");
    const scope = req.scope?.length ? [...new Set(req.scope)].sort().join(' ') : undefined;
    await this.gate(req.tenantId, req.agentId);
    const agentKey = `${req.tenantId}|${req.agentId}`;
    const key = sha256Hex(
      `oauth|${agentKey}|${canonicalJson({ e: req.tokenEndpoint, c: req.clientId, k: req.clientSecretId, r: req.resource, s: scope ?? null })}`,
    );
    const cached = this.hit(key);
    if (cached) return { ...cached.value, cached: true };
    let clientSecret: string;
    try {
      clientSecret = await this.deps.secrets(req.clientSecretId);
    } catch (e) {
      throw new DependencyError('client secret unavailable', { cause: e });
    }
    let t: OAuthTokenResult;
    try {
      t = await this.deps.oauth.clientCredentials({
        tokenEndpoint: req.tokenEndpoint,
        clientId: req.clientId,
        clientSecret,
        resource: req.resource,
        ...(scope ? { scope } : {}),
      });
    } catch (e) {
      throw new DependencyError('the authorization server did not issue a token', { cause: e });
    }
    const now = this.deps.clock.now();
    const expiresAt = now.getTime() + Math.max(0, t.expires_in) * 1000;
    // F6: kept (until it expires) so termination can revoke it per RFC 7009.
    await this.deps.issuedTokens.record({
      tenant_id: req.tenantId,
      agent_id: req.agentId,
      token_id: sha256Hex(t.access_token).slice(0, 32),
      access_token: t.access_token,
      token_endpoint: req.tokenEndpoint,
      ...(endpoint.revocation_endpoint ? { revocation_endpoint: endpoint.revocation_endpoint } : {}),
      client_id: req.clientId,
      client_secret_id: req.clientSecretId,
      expires_at: new Date(expiresAt).toISOString(),
    });
    const issued: IssuedCredential = {
      token: { access_token: t.access_token, token_type: t.token_type },
      expires_at: new Date(expiresAt).toISOString(),
      audience: req.resource,
      scope_actually_granted: t.scope ?? scope ?? null,
      cached: false,
    };
    await this.deps.bindings.record({
      tenant_id: req.tenantId,
      agent_id: req.agentId,
      binding_id: `oauth#${key.slice(0, 32)}`,
      target_platform: new URL(req.resource).host,
      scope_template: scope ?? '',
      issuer_role: `${req.tokenEndpoint}#${req.clientId}`,
      max_ttl_seconds: t.expires_in,
      last_issued_at: now.toISOString(),
    });
    this.put(key, agentKey, issued, t, expiresAt);
    return issued;
  }

  /**
   * Revocation cascade (kill switch step 3, `POST /v1/credentials/revoke`): evicts every cached
   * credential of the agent, deletes its bindings, denies its STS sessions issued before now on
   * every role registered to the tenant (F6) and revokes every OAuth access token it was issued
   * (RFC 7009). Everything is attempted; if any role or token could not be revoked it throws a
   * DependencyError afterwards, so the caller retries (each step is idempotent).
   */
  async revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocationResult> {
    const agentKey = `${tenantId}|${agentId}`;
    let evicted = 0;
    for (const [k, e] of this.cache) {
      if (e.agentKey === agentKey) {
        this.cache.delete(k);
        evicted++;
      }
    }
    const bindings = await this.deps.bindings.revokeAll(tenantId, agentId);
    const refreshTokens = (await this.deps.refreshTokens?.revokeAgent(tenantId, agentId)) ?? 0;
    const failures: unknown[] = [];
    const issuedBefore = this.deps.clock.now();
    let denied = 0;
    const roles = await this.deps.registry.listRoles(tenantId);
    if (roles.length) {
      const externalId = await this.deps.registry.externalId(tenantId);
      for (const role of roles) {
        try {
          await this.deps.sessions.denyOlderSessions({
            roleArn: role.role_arn,
            externalId,
            sourceIdentity: agentId,
            issuedBefore,
          });
          denied++;
        } catch (e) {
          failures.push(e);
        }
      }
    }
    let revoked = 0;
    let unrevocable = 0;
    for (const t of await this.deps.issuedTokens.list(tenantId, agentId)) {
      if (Date.parse(t.expires_at) <= issuedBefore.getTime()) {
        await this.deps.issuedTokens.remove(tenantId, agentId, t.token_id);
        continue;
      }
      if (!t.revocation_endpoint || !this.deps.oauth.revoke) {
        unrevocable++;
        continue;
      }
      try {
        const clientSecret = await this.deps.secrets(t.client_secret_id);
        await this.deps.oauth.revoke({
          revocationEndpoint: t.revocation_endpoint,
          clientId: t.client_id,
          clientSecret,
          token: t.access_token,
          tokenTypeHint: 'access_token',
        });
        await this.deps.issuedTokens.remove(tenantId, agentId, t.token_id);
        revoked++;
      } catch (e) {
        failures.push(e);
      }
    }
    if (failures.length) {
      throw new DependencyError(`${failures.length} credential(s) could not be revoked yet`, { cause: failures[0] });
    }
    return {
      cache_evicted: evicted,
      bindings_revoked: bindings,
      sessions_denied_roles: denied,
      oauth_tokens_revoked: revoked,
      oauth_tokens_unrevocable: unrevocable,
      refresh_tokens_revoked: refreshTokens,
    };
  }

  /** Whether plain-http loopback endpoints are accepted (local runtime and tests only). */
  allowsLoopback(): boolean {
    return this.deps.allowLoopback ?? false;
  }

  /** Number of live cache entries (for tests and metrics). */
  cacheSize(): number {
    return this.cache.size;
  }
}
