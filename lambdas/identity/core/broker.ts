/**
 * Credential broker (seed C2.2, zero standing privilege): after a permit, mints a short-lived
 * target credential for exactly the action's scope. AWS: STS AssumeRole with a session policy
 * narrowed to the action's IAM actions and resources. HTTP connectors: OAuth 2.0 client
 * credentials with an RFC 8707 resource indicator. Credentials are cached in memory for at most
 * 60 s per (agent, target, scope) and never persisted; CredentialBinding rows record only what
 * kind of credential was issued. Every issue — cached or not — first checks the agent is still
 * active (revocation list + credential state), so a revocation anywhere stops cached bindings
 * within the revocation cache window; `revokeAgentCredentials` also evicts this process's cache.
 */
import type { Clock } from '../../shared/clock.js';
import { DependencyError, ForbiddenError, ValidationError } from '../../shared/errors.js';
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
  clientCredentials(req: { tokenEndpoint: string; clientId: string; clientSecret: string; scope?: string; resource: string }): Promise<OAuthTokenResult>;
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
  /** Role assumed when the caller names none (e.g. ARX_CREDENTIAL_ROLE_ARN). */
  readonly defaultRoleArn?: string;
}

export interface AwsCredentialRequest {
  tenantId: string;
  agentId: string;
  actionId?: string;
  /** IAM actions the session may use, e.g. `iam:DeleteUser`. */
  actions: readonly string[];
  /** Resource ARNs the session may touch; a bare `*` is refused. */
  resources: readonly string[];
  roleArn?: string;
  externalId?: string;
}

export interface OAuthCredentialRequest {
  tenantId: string;
  agentId: string;
  tokenEndpoint: string;
  clientId: string;
  /** Used for this call only: never cached as a key component, logged or persisted. */
  clientSecret: string;
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

const IAM_ACTION = /^[a-z0-9-]{2,64}:[A-Za-z0-9*]{1,128}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,128}$/;

/** The session policy for one action: exactly its IAM actions on exactly its resources. */
export function sessionPolicy(actions: readonly string[], resources: readonly string[]): string {
  if (actions.length === 0 || actions.length > 20 || actions.some((a) => !IAM_ACTION.test(a) || a.split(':')[1] === '*')) {
    throw new ValidationError('actions must be 1–20 service:Action names (no bare wildcards)');
  }
  if (resources.length === 0 || resources.length > 20 || resources.some((r) => r === '*' || !r.startsWith('arn:') || r.length > 2048)) {
    throw new ValidationError('resources must be 1–20 ARNs (a bare "*" is refused)');
  }
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'ArxActionScope', Effect: 'Allow', Action: [...new Set(actions)].sort(), Resource: [...new Set(resources)].sort() }],
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

/** https, or plain http to loopback only (local development and tests). */
function isTokenEndpoint(u: string): boolean {
  if (!isResourceIndicator(u)) return false;
  return u.startsWith('https:') || /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u);
}

interface CacheEntry {
  readonly agentKey: string;
  readonly value: IssuedCredential;
  readonly raw: AwsCredentials | OAuthTokenResult;
  readonly until: number;
}

/**
 * @example
 * const broker = new CredentialBroker({ sts, oauth, bindings, agentStatus, clock: systemClock });
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

  async issueAws(req: AwsCredentialRequest): Promise<{ issued: IssuedCredential; raw: AwsCredentials }> {
    const roleArn = req.roleArn ?? this.deps.defaultRoleArn;
    if (!roleArn || !ROLE_ARN.test(roleArn)) throw new ValidationError('a role ARN is required (none configured)');
    const policy = sessionPolicy(req.actions, req.resources);
    await this.gate(req.tenantId, req.agentId);
    const agentKey = `${req.tenantId}|${req.agentId}`;
    const key = sha256Hex(`aws|${agentKey}|${roleArn}|${req.externalId ? sha256Hex(req.externalId) : ''}|${policy}`);
    const cached = this.hit(key);
    if (cached) return { issued: { ...cached.value, cached: true }, raw: cached.raw as AwsCredentials };
    let creds: AwsCredentials & { expiration: Date };
    try {
      creds = await this.deps.sts.assumeRole({
        roleArn,
        sessionName: `arx-${req.agentId}`.slice(0, 64),
        policy,
        durationSeconds: STS_MIN_DURATION_S,
        ...(req.externalId ? { externalId: req.externalId } : {}),
        sourceIdentity: req.agentId,
      });
    } catch (e) {
      throw new DependencyError('STS did not issue credentials', { cause: e });
    }
    const now = this.deps.clock.now();
    const issued: IssuedCredential = {
      token: { access_key_id: creds.accessKeyId, secret_access_key: creds.secretAccessKey, session_token: creds.sessionToken },
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
    if (!isResourceIndicator(req.resource)) throw new ValidationError('resource must be an absolute http(s) URI without fragment (RFC 8707)');
    if (!isTokenEndpoint(req.tokenEndpoint)) {
      throw new ValidationError('token_endpoint must be an https URL');
    }
    const scope = req.scope && req.scope.length ? [...new Set(req.scope)].sort().join(' ') : undefined;
    await this.gate(req.tenantId, req.agentId);
    const agentKey = `${req.tenantId}|${req.agentId}`;
    const key = sha256Hex(`oauth|${agentKey}|${canonicalJson({ e: req.tokenEndpoint, c: req.clientId, r: req.resource, s: scope ?? null })}`);
    const cached = this.hit(key);
    if (cached) return { ...cached.value, cached: true };
    let t: OAuthTokenResult;
    try {
      t = await this.deps.oauth.clientCredentials({
        tokenEndpoint: req.tokenEndpoint,
        clientId: req.clientId,
        clientSecret: req.clientSecret,
        resource: req.resource,
        ...(scope ? { scope } : {}),
      });
    } catch (e) {
      throw new DependencyError('the authorization server did not issue a token', { cause: e });
    }
    const now = this.deps.clock.now();
    const expiresAt = now.getTime() + Math.max(0, t.expires_in) * 1000;
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

  /** Revocation cascade: evicts every cached credential of the agent and deletes its bindings. */
  async revokeAgentCredentials(tenantId: string, agentId: string): Promise<{ cache_evicted: number; bindings_revoked: number }> {
    const agentKey = `${tenantId}|${agentId}`;
    let evicted = 0;
    for (const [k, e] of this.cache) {
      if (e.agentKey === agentKey) {
        this.cache.delete(k);
        evicted++;
      }
    }
    const bindings = await this.deps.bindings.revokeAll(tenantId, agentId);
    return { cache_evicted: evicted, bindings_revoked: bindings };
  }

  /** Number of live cache entries (for tests and metrics). */
  cacheSize(): number {
    return this.cache.size;
  }
}
