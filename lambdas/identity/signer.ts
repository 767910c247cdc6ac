/**
 * The tenant signer, for identity and for the capabilities that sign or verify with the tenant's
 * key in process: policy (bundles), the kill switch (exit attestations), and every bundle
 * verifier that can read the key registry. One implementation (TenantKeys over the control-table
 * key registry and KMS `alias/arx/<tenant>/signing`), so each tenant's artefacts are signed with
 * that tenant's own key and verified against that tenant's keys only.
 *
 * Environment: ARX_CONTROL_TABLE; optional ARX_SIGNING_KEY_ARN (the initial key, used only for
 * the tenant its `arx:tenant` tag names).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { documentClient, kmsClient } from '../shared/aws.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { readConfig } from '../shared/config.js';
import { DynamoKeyStore } from './adapters/dynamo-identity-store.js';
import { KmsKeyManager } from './adapters/kms-key-manager.js';
import { TenantKeys, type KeyManager } from './core/keys.js';

/** The one KMS adapter of tenant keys (audit builds its audit key set's manager from it). */
export { KmsKeyManager, type KmsKeyManagerOptions } from './adapters/kms-key-manager.js';
export { TenantKeys } from './core/keys.js';

export interface TenantSignerOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: Clock;
  readonly ddb?: DynamoDBDocumentClient;
  readonly kms?: KMSClient;
  /** @default KmsKeyManager (ARX_SIGNING_KEY_ARN as the initial key) */
  readonly keyManager?: KeyManager;
}

/**
 * A TenantSigner over the environment's key registry.
 *
 * @example
 * const signer = createTenantSigner();
 * const { kid, signature } = await signer.sign(tenantId, bytes); // 64-byte R‖S
 * await signer.publicKeys(tenantId); // the tenant's keys, active first
 */
export function createTenantSigner(opts: TenantSignerOptions = {}): TenantKeys {
  const env = opts.env ?? process.env;
  const table = readConfig(['ARX_CONTROL_TABLE'], env).ARX_CONTROL_TABLE;
  return new TenantKeys(
    new DynamoKeyStore(table, opts.ddb ?? documentClient()),
    opts.keyManager ?? new KmsKeyManager(env.ARX_SIGNING_KEY_ARN || undefined, opts.kms ?? kmsClient()),
    opts.clock ?? systemClock,
  );
}

let shared: TenantKeys | undefined;
/** The process-wide tenant signer (one active-key cache per process), built on first use. */
export const tenantSigner = (): TenantKeys => (shared ??= createTenantSigner());
