/**
 * `verifySvid` wired for ARX's own functions (the authorizer, the token endpoint): tenant JWKS
 * from the control table (no KMS call on the verify path), the revocation list and the agent
 * credential state, both with a 1 s staleness window. External enforcement points use
 * `SvidVerifier` from core/verify.ts with `fetchJwks` reading `<iss>/.well-known/jwks.json`.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../shared/aws.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../shared/revocation.js';
import { DynamoAgentStateStore, DynamoKeyStore } from './adapters/dynamo-identity-store.js';
import { publicJwkOf, publishedKeys } from './core/keys.js';
import { CachedAgentState, SvidVerifier, type VerifiedSvid } from './core/verify.js';

export { SvidError, SvidVerifier, MAX_SVID_BYTES, type VerifiedSvid, type SvidFailure } from './core/verify.js';

export interface SvidVerifierConfig {
  readonly controlTable: string;
  readonly revocationTable: string;
  /** ARX_SVID_ISSUER_BASE */
  readonly issuerBase: string;
  readonly clock?: Clock;
  readonly client?: DynamoDBDocumentClient;
}

/** Reads a tenant's published JWKS straight from the key registry (null when it has none). */
export function jwksFromStore(store: DynamoKeyStore, clock: Clock) {
  return async (tenantId: string) => {
    const { keys } = await store.load(tenantId);
    const published = publishedKeys(keys, clock.now());
    return published.length ? { keys: published.map((k) => ({ ...publicJwkOf(k) })) } : null;
  };
}

/**
 * @example
 * const verifier = createSvidVerifier({ controlTable, revocationTable, issuerBase });
 * const svid = await verifier.verify(token, { audience: 'arx' });
 */
export function createSvidVerifier(cfg: SvidVerifierConfig): SvidVerifier {
  const clock = cfg.clock ?? systemClock;
  const client = cfg.client ?? documentClient();
  return new SvidVerifier({
    issuerBase: cfg.issuerBase,
    clock,
    fetchJwks: jwksFromStore(new DynamoKeyStore(cfg.controlTable, client), clock),
    revocation: new CachedRevocationChecker(new DynamoRevocationList(cfg.revocationTable, client), clock),
    agentState: new CachedAgentState(new DynamoAgentStateStore(cfg.controlTable, client), clock),
  });
}

/** One-call form: verifies an ARX SVID for `audience` (default `arx`) or throws SvidError. */
export async function verifySvid(verifier: SvidVerifier, token: string, audience = 'arx'): Promise<VerifiedSvid> {
  return verifier.verify(token, { audience });
}
