/**
 * Audit signing keys (F8): per-tenant KMS ECC_NIST_P256 keys used only to sign audit block heads,
 * registered in the audit table and never removed from the published audit key set, so every
 * block ever sealed verifies after any rotation. Separate from the SVID keys of identity, whose
 * retired keys leave the JWKS about an hour after a rotation.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient, kmsClient } from '../../shared/aws.js';
import { DynamoKeyStore, KmsKeyManager } from '../../identity/index.js';

/**
 * `arx:purpose` of every audit key; like identity's keys they are tagged `arx:tenant` too, so the
 * sealer's kms:Sign grant applies (tags set by the shared KMS adapter).
 */
export const AUDIT_PURPOSE = 'audit';
export const auditKeyAlias = (tenantId: string): string => `alias/arx/${tenantId}/audit`;

/** KMS side of audit keys: the tenant signer's KMS adapter over `alias/arx/<tenant>/audit`, keys tagged `arx:purpose=audit`. */
export class KmsAuditKeyManager extends KmsKeyManager {
  constructor(client: KMSClient = kmsClient()) {
    super(undefined, client, {
      alias: auditKeyAlias,
      purpose: AUDIT_PURPOSE,
      description: (t) => `ARX audit signing key of tenant ${t} (block heads; never retired from the audit key set)`,
    });
  }
}

/**
 * Audit keys in the audit table (`T#<tenant>#AUDITKEYS`): identity's key registry in the layout
 * that never lets a key leave the published set (a rotation only retires it from signing).
 */
export class DynamoAuditKeyStore extends DynamoKeyStore {
  constructor(table: string, client: DynamoDBDocumentClient = documentClient()) {
    super(table, client, { partition: (t) => `T#${t}#AUDITKEYS`, keepRetired: true });
  }
}
