/**
 * The credential broker as an in-process library: the actions capability calls
 * `createCredentialBroker().awsCredentials(...)` after a permit (its CredentialBroker port); the
 * kill switch calls `revokeAgentCredentials(tenant, agent)`. `POST /v1/credentials/issue` serves
 * the same core over HTTP.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { STSClient } from '@aws-sdk/client-sts';
import { documentClient } from '../shared/aws.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { currentEnv, readSettings, type SettingName } from '../shared/settings.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../shared/revocation.js';
import { AwsStsIssuer, HttpOAuthIssuer, IamSessionRevoker, readClientSecret } from './adapters/credential-issuers.js';
import { DynamoCredentialRegistry, DynamoIssuedTokens } from './adapters/credential-registry.js';
import {
  DynamoAgentStateStore,
  DynamoCredentialBindings,
  DynamoRefreshTokenStore,
} from './adapters/dynamo-identity-store.js';
import { CredentialBroker, type OAuthPort, type SessionRevokerPort, type StsPort } from './core/broker.js';
import { CachedAgentState } from './core/verify.js';

export { CredentialBroker, sessionPolicy, type AwsCredentials, type IssuedCredential } from './core/broker.js';

export interface CredentialBrokerConfig {
  /** ARX_CONTROL_TABLE (CredentialBinding rows, agent credential state, refresh token families). */
  readonly controlTable: string;
  /** ARX_REVOCATION_TABLE */
  readonly revocationTable: string;
  readonly clock?: Clock;
  readonly client?: DynamoDBDocumentClient;
  readonly sts?: StsPort | STSClient;
  readonly oauth?: OAuthPort;
  readonly sessions?: SessionRevokerPort;
  readonly secrets?: (secretId: string) => Promise<string>;
  /**
   * Loopback token endpoints (plain http to 127.0.0.1/localhost) are allowed.
   * @default isLocalRuntime(process.env)
   */
  readonly allowLoopback?: boolean;
}

/**
 * True only in the local runtime and tests: AWS is emulated (AWS_ENDPOINT_URL) and the code does
 * not run in a Lambda execution environment. A deployed stack never qualifies, so the loopback
 * exemptions of the broker (F12b, F22) are off there.
 */
export function isLocalRuntime(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_ENDPOINT_URL) && !(env.AWS_EXECUTION_ENV ?? '').startsWith('AWS_Lambda');
}

/** Status gate shared by every issue: revocation list + credential state, fail closed. */
export function agentStatusGate(
  controlTable: string,
  revocationTable: string,
  clock: Clock,
  client: DynamoDBDocumentClient,
) {
  const drl = new CachedRevocationChecker(new DynamoRevocationList(revocationTable, client), clock);
  const state = new CachedAgentState(new DynamoAgentStateStore(controlTable, client), clock);
  return async (tenantId: string, agentId: string): Promise<'active' | 'inactive' | 'unknown'> => {
    const d = await drl.status(tenantId, agentId);
    if (d === 'unknown') return 'unknown';
    if (d === 'revoked') return 'inactive';
    try {
      const s = await state.get(tenantId, agentId);
      return !s || s.status === 'active' ? 'active' : 'inactive';
    } catch {
      return 'unknown';
    }
  };
}

/**
 * @example
 * const broker = createCredentialBroker({ controlTable, revocationTable });
 * const creds = await broker.awsCredentials({ tenantId, agentId, actionId, actions: ['s3:DeleteBucket'], resources: ['arn:aws:s3:::b'] });
 */
export function createCredentialBroker(cfg: CredentialBrokerConfig): CredentialBroker {
  const clock = cfg.clock ?? systemClock;
  const client = cfg.client ?? documentClient();
  const sts: StsPort =
    cfg.sts && 'assumeRole' in cfg.sts ? cfg.sts : new AwsStsIssuer(cfg.sts as STSClient | undefined);
  const allowLoopback = cfg.allowLoopback ?? isLocalRuntime();
  return new CredentialBroker({
    sts,
    oauth: cfg.oauth ?? new HttpOAuthIssuer({ allowLoopback }),
    bindings: new DynamoCredentialBindings(cfg.controlTable, client),
    agentStatus: agentStatusGate(cfg.controlTable, cfg.revocationTable, clock, client),
    registry: new DynamoCredentialRegistry(cfg.controlTable, client),
    issuedTokens: new DynamoIssuedTokens(cfg.controlTable, client),
    sessions: cfg.sessions ?? new IamSessionRevoker(),
    refreshTokens: new DynamoRefreshTokenStore(cfg.controlTable, client),
    secrets: cfg.secrets ?? ((id) => readClientSecret(id)),
    clock,
    allowLoopback,
  });
}

/** The settings {@link credentialBrokerFromEnv} reads. */
export const BROKER_SETTINGS = ['ARX_CONTROL_TABLE', 'ARX_REVOCATION_TABLE'] as const satisfies readonly SettingName[];

const brokers = new WeakMap<object, CredentialBroker>();
/**
 * The broker of the function's environment (one cache per environment — per process in Lambda —
 * so a revocation evicts it for every caller in the function).
 */
export function credentialBrokerFromEnv(
  env: Readonly<Record<string, string | undefined>> = currentEnv(),
): CredentialBroker {
  const hit = brokers.get(env);
  if (hit) return hit;
  const c = readSettings(BROKER_SETTINGS, env);
  const broker = createCredentialBroker({
    controlTable: c.ARX_CONTROL_TABLE,
    revocationTable: c.ARX_REVOCATION_TABLE,
    allowLoopback: isLocalRuntime(),
  });
  brokers.set(env, broker);
  return broker;
}
