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
import { currentEnv, optionalSetting, perEnvironment, readSettings, type SettingName } from '../shared/settings.js';
import { DynamoKeyStore } from './adapters/dynamo-identity-store.js';
import { KmsKeyManager } from './adapters/kms-key-manager.js';
import { TenantKeys, type KeyManager } from './core/keys.js';

/** The one KMS adapter of tenant keys (audit builds its audit key set's manager from it). */
export { KmsKeyManager, type KmsKeyManagerOptions } from './adapters/kms-key-manager.js';
export { TenantKeys } from './core/keys.js';

export interface TenantSignerOptions {
  readonly env?: ReturnType<typeof currentEnv>;
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
  const env = opts.env ?? currentEnv();
  const table = readSettings(['ARX_CONTROL_TABLE'], env).ARX_CONTROL_TABLE;
  return new TenantKeys(
    new DynamoKeyStore(table, opts.ddb ?? documentClient()),
    opts.keyManager ?? new KmsKeyManager(optionalSetting('ARX_SIGNING_KEY_ARN', env), opts.kms ?? kmsClient()),
    opts.clock ?? systemClock,
  );
}

/** What {@link createTenantSigner} reads. */
export const TENANT_SIGNER_SETTINGS = [
  'ARX_CONTROL_TABLE',
  'ARX_SIGNING_KEY_ARN',
] as const satisfies readonly SettingName[];

/** The function's tenant signer (one active-key cache per environment), built on first use. */
export const tenantSigner: () => TenantKeys = perEnvironment(() => createTenantSigner());
