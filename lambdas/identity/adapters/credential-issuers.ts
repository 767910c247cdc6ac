import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isLoopbackAddress, isNonPublicAddress } from '../../shared/outbound.js';
import {
  ROLE_ARN,
  type AwsCredentials,
  type OAuthPort,
  type OAuthTokenResult,
  type SessionRevokerPort,
  type StsPort,
} from '../core/broker.js';

let sts: STSClient | undefined;
let sm: SecretsManagerClient | undefined;
const stsClient = (): STSClient => (sts ??= new STSClient({}));
const smClient = (): SecretsManagerClient => (sm ??= new SecretsManagerClient({}));

/** STS AssumeRole with an inline session policy (the effective permissions are role ∩ policy). */
export class AwsStsIssuer implements StsPort {
  constructor(private readonly client: STSClient = stsClient()) {}
  async assumeRole(req: Parameters<StsPort['assumeRole']>[0]): Promise<AwsCredentials & { expiration: Date }> {
    const r = await this.client.send(
      new AssumeRoleCommand({
        RoleArn: req.roleArn,
        RoleSessionName: req.sessionName,
        Policy: req.policy,
        DurationSeconds: req.durationSeconds,
        ...(req.externalId ? { ExternalId: req.externalId } : {}),
        ...(req.sourceIdentity ? { SourceIdentity: req.sourceIdentity } : {}),
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) throw new Error('STS returned no credentials');
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: new Date(c.Expiration),
    };
  }
}

export class OAuthIssuerError extends Error {
  override readonly name = 'OAuthIssuerError';
}

/** Refused because the target resolves to a private, link-local or loopback address (F22). */
export class OutboundAddressError extends Error {
  override readonly name = 'OutboundAddressError';
}

/**
 * Classifies one resolved address (IPv4-mapped IPv6 addresses are judged as IPv4) by the one F22
 * address policy ARX has (lambdas/shared/outbound.ts, which connectors, notifiers and the OTLP
 * export use too): anything not public — private, link-local, metadata, documentation, reserved,
 * or not an address at all — is `private`.
 */
export function addressClass(address: string): 'public' | 'private' | 'loopback' {
  if (isLoopbackAddress(address)) return 'loopback';
  return isNonPublicAddress(address) ? 'private' : 'public';
}

export interface GuardOptions {
  /** Loopback targets are allowed (local runtime and tests only); private ranges never are. */
  readonly allowLoopback: boolean;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

/**
 * POSTs a form to `url` after resolving its host and refusing private, link-local and loopback
 * addresses (F22). The connection is pinned to the address that was checked (no DNS rebinding
 * between check and connect), redirects are never followed (a 3xx is an error, like
 * `redirect: "error"`), and the response is bounded in time and size.
 */
export async function guardedPostForm(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: GuardOptions,
): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const resolved = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await dnsLookup(host, { all: true, verbatim: true });
  if (resolved.length === 0) throw new OutboundAddressError(`${host} does not resolve`);
  for (const r of resolved) {
    const c = addressClass(r.address);
    if (c === 'private' || (c === 'loopback' && !opts.allowLoopback))
      throw new OutboundAddressError(`${host} resolves to a ${c} address; refused`);
  }
  const pinned = resolved[0]!;
  const lookup: LookupFunction = (_h, o, cb) => {
    if ((o as { all?: boolean }).all)
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: pinned.address, family: pinned.family },
      ]);
    else cb(null, pinned.address, pinned.family);
  };
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          reject(new OAuthIssuerError(`redirect (${status}) refused`));
          return;
        }
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new OAuthIssuerError('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | null = null;
          try {
            const v = JSON.parse(text) as unknown;
            json = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
          } catch {
            json = null;
          }
          resolve({ status, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new OAuthIssuerError('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) with client_secret_basic and an RFC 8707
 * `resource` parameter, and RFC 7009 revocation. No refresh token is requested or kept. Every
 * request goes through `guardedPostForm` (F22).
 */
export class HttpOAuthIssuer implements OAuthPort {
  constructor(private readonly opts: GuardOptions = { allowLoopback: false }) {}

  private static basic(clientId: string, clientSecret: string): string {
    return Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  }

  async clientCredentials(req: Parameters<OAuthPort['clientCredentials']>[0]): Promise<OAuthTokenResult> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', resource: req.resource });
    if (req.scope) body.set('scope', req.scope);
    const r = await guardedPostForm(
      req.tokenEndpoint,
      {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${HttpOAuthIssuer.basic(req.clientId, req.clientSecret)}`,
      },
      body.toString(),
      this.opts,
    );
    const json = r.json;
    if (r.status !== 200 || !json || typeof json.access_token !== 'string') {
      throw new OAuthIssuerError(
        `token endpoint answered ${r.status}${json && typeof json.error === 'string' ? ` (${json.error})` : ''}`,
      );
    }
    return {
      access_token: json.access_token,
      token_type: typeof json.token_type === 'string' ? json.token_type : 'Bearer',
      expires_in: typeof json.expires_in === 'number' ? json.expires_in : 300,
      ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
    };
  }

  /** RFC 7009 §2.1: `token` + `token_type_hint`, client authenticated; 200 means revoked (or already invalid). */
  async revoke(req: Parameters<NonNullable<OAuthPort['revoke']>>[0]): Promise<void> {
    const body = new URLSearchParams({ token: req.token, token_type_hint: req.tokenTypeHint });
    const r = await guardedPostForm(
      req.revocationEndpoint,
      {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${HttpOAuthIssuer.basic(req.clientId, req.clientSecret)}`,
      },
      body.toString(),
      this.opts,
    );
    if (r.status !== 200) throw new OAuthIssuerError(`revocation endpoint answered ${r.status}`);
  }
}

/** Inline policy name of the revoke-older-sessions deny on each registered role. */
export const REVOKED_SESSIONS_POLICY = 'arx-revoked-sessions';
/** Statements older than this are pruned: every session they deny has expired (ARX asks for 900 s; STS max is 12 h). */
const PRUNE_AFTER_MS = 12 * 3600_000;

interface PolicyDoc {
  Version: string;
  Statement: {
    Sid: string;
    Effect: 'Deny';
    Action: string;
    Resource: string;
    Condition: Record<string, Record<string, string>>;
  }[];
}

/** The deny statement for one agent's sessions issued before `issuedBefore`. */
export function revokedSessionStatement(sourceIdentity: string, issuedBefore: Date): PolicyDoc['Statement'][number] {
  return {
    Sid: `ArxRevoked${sourceIdentity.replace(/[^A-Za-z0-9]/g, '')}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:SourceIdentity': sourceIdentity },
      DateLessThan: { 'aws:TokenIssueTime': issuedBefore.toISOString() },
    },
  };
}

/**
 * F6, the revoke-older-sessions pattern: puts (merges) an inline deny policy on the role that
 * refuses every session whose SourceIdentity is the agent and whose token was issued before the
 * termination. Roles in ARX's own account are changed with ARX's credentials; a role in another
 * account is changed through a session of that role itself (with the tenant external id, a
 * session policy allowing only Get/PutRolePolicy on it), so the role must allow
 * `iam:PutRolePolicy` and `iam:GetRolePolicy` on itself.
 */
export class IamSessionRevoker implements SessionRevokerPort {
  private ownAccount?: Promise<string>;
  constructor(
    private readonly sts: STSClient = stsClient(),
    private readonly iam: IAMClient = new IAMClient({}),
    private readonly clock: { now(): Date } = { now: () => new Date() },
  ) {}

  private async iamFor(roleArn: string, externalId: string): Promise<IAMClient> {
    const account = ROLE_ARN.exec(roleArn)?.[1];
    if (!account) throw new Error('malformed role ARN');
    this.ownAccount ??= this.sts.send(new GetCallerIdentityCommand({})).then((r) => String(r.Account));
    if ((await this.ownAccount) === account) return this.iam;
    const r = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: 'arx-revoke-sessions',
        ExternalId: externalId,
        DurationSeconds: 900,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['iam:GetRolePolicy', 'iam:PutRolePolicy'], Resource: roleArn }],
        }),
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('STS returned no credentials');
    return new IAMClient({
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
    });
  }

  async denyOlderSessions(req: Parameters<SessionRevokerPort['denyOlderSessions']>[0]): Promise<void> {
    const iam = await this.iamFor(req.roleArn, req.externalId);
    const roleName = req.roleArn.slice(req.roleArn.lastIndexOf('/') + 1);
    let doc: PolicyDoc = { Version: '2012-10-17', Statement: [] };
    try {
      const cur = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKED_SESSIONS_POLICY }));
      doc = JSON.parse(decodeURIComponent(cur.PolicyDocument ?? '')) as PolicyDoc;
    } catch (e) {
      if ((e as { name?: string }).name !== 'NoSuchEntityException' && (e as { name?: string }).name !== 'NoSuchEntity')
        throw e;
    }
    const stmt = revokedSessionStatement(req.sourceIdentity, req.issuedBefore);
    const horizon = this.clock.now().getTime() - PRUNE_AFTER_MS;
    const kept = (doc.Statement ?? []).filter(
      (s) => s.Sid !== stmt.Sid && Date.parse(s.Condition?.DateLessThan?.['aws:TokenIssueTime'] ?? '') > horizon,
    );
    doc = { Version: '2012-10-17', Statement: [...kept, stmt] };
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: REVOKED_SESSIONS_POLICY,
        PolicyDocument: JSON.stringify(doc),
      }),
    );
  }
}

/** Reads an OAuth client secret (`{client_secret}` JSON or a plain string) from Secrets Manager. */
export async function readClientSecret(secretId: string, client: SecretsManagerClient = smClient()): Promise<string> {
  const r = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  const s = r.SecretString ?? '';
  try {
    const j = JSON.parse(s) as { client_secret?: unknown };
    if (typeof j.client_secret === 'string') return j.client_secret;
  } catch {
    /* plain string secret */
  }
  if (!s) throw new Error('empty secret');
  return s;
}
