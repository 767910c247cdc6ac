import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsCredentials, OAuthPort, OAuthTokenResult, StsPort } from '../core/broker.js';

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
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: new Date(c.Expiration) };
  }
}

export class OAuthIssuerError extends Error {
  override readonly name = 'OAuthIssuerError';
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) with client_secret_basic and an RFC 8707
 * `resource` parameter. No refresh token is requested or kept.
 */
export class HttpOAuthIssuer implements OAuthPort {
  constructor(
    private readonly fetchFn: typeof fetch = fetch,
    private readonly timeoutMs = 5000,
  ) {}
  async clientCredentials(req: Parameters<OAuthPort['clientCredentials']>[0]): Promise<OAuthTokenResult> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', resource: req.resource });
    if (req.scope) body.set('scope', req.scope);
    const basic = Buffer.from(`${encodeURIComponent(req.clientId)}:${encodeURIComponent(req.clientSecret)}`).toString('base64');
    const r = await this.fetchFn(req.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
      body: body.toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const json = (await r.json().catch(() => null)) as Record<string, unknown> | null;
    if (!r.ok || !json || typeof json.access_token !== 'string') {
      throw new OAuthIssuerError(`token endpoint answered ${r.status}${json && typeof json.error === 'string' ? ` (${json.error})` : ''}`);
    }
    return {
      access_token: json.access_token,
      token_type: typeof json.token_type === 'string' ? json.token_type : 'Bearer',
      expires_in: typeof json.expires_in === 'number' ? json.expires_in : 300,
      ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
    };
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
