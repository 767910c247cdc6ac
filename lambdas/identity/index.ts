/**
 * What other capabilities, layers and tools import from identity (C2). Everything else under
 * `lambdas/identity/` is private to it (test/unit/boundaries.test.ts holds the line).
 *
 * @example
 * import { credentialBrokerFromEnv, DynamoInventoryStore } from '../identity/index.js';
 * const creds = await credentialBrokerFromEnv().awsCredentials(req); // a connector's session
 */

// The agent inventory (the InventoryStore port of shared/ports.ts) and an agent as the API shows it.
export { DynamoInventoryStore } from './adapters/dynamo-inventory-store.js';
export { toIdentity } from './core/agents.js';
// The wired service (register, revoke/terminate, owners, tenant keys) for in-process callers.
export { identityService } from './service.js';
// The agent credential-state mirror every SVID verifier checks (the kill switch sets `terminated`).
export { agentStatePut, DynamoKeyStore, type KeyStoreLayout } from './adapters/dynamo-identity-store.js';

// Credentials: the broker (STS / OAuth for governed actions), its scope check, the cascade revoke.
export { BROKER_SETTINGS, credentialBrokerFromEnv } from './broker.js';
export { assertActionInScope } from './scope.js';
export type { CredentialRevocationResult } from './core/broker.js';

// SVIDs: the verifier (authorizer, PDP extension) and the audience and lifetime they carry.
export { createSvidVerifier } from './verifier.js';
export { SvidVerifier } from './core/verify.js';
export { ARX_AUDIENCE } from './core/svid.js';
export { SVID_MAX_TTL_S } from './core/keys.js';

// Tenant keys (audit signs its blocks with the tenant's key).
export { publicJwkOf, TenantKeys } from './core/keys.js';
export type { Jwks, KeyManager, KeyStore, RotationResult, TenantKey, TenantSignature } from './core/keys.js';

// The tenant signer (SVIDs, bundles, exit attestations; audit's key set is the same class).
export {
  createTenantSigner,
  KmsKeyManager,
  tenantSigner,
  TENANT_SIGNER_SETTINGS,
  type TenantSignerOptions,
} from './signer.js';
