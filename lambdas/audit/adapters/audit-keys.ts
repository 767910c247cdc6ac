/**
 * Audit signing keys (F8): per-tenant KMS ECC_NIST_P256 keys used only to sign audit block heads,
 * registered in the audit table and never removed from the published audit key set, so every
 * block ever sealed verifies after any rotation. Separate from the SVID keys of identity, whose
 * retired keys leave the JWKS about an hour after a rotation.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionalCheckFailed, kmsClient } from '../../shared/aws.js';
import type { KeyStore, TenantKey } from '../../identity/index.js';
import { KmsKeyManager } from '../../identity/index.js';

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

const pkOf = (t: string): string => `T#${t}#AUDITKEYS`;
type Item = Record<string, unknown>;
const toKey = ({ pk: _pk, sk: _sk, ...k }: Item): TenantKey => k as unknown as TenantKey;

/**
 * Audit keys in the audit table: `ACTIVE` → kid, and one `KEY#<kid>` item per key ever used.
 * Nothing here deletes a key item; a rotation only moves the pointer and marks the old key retired.
 */
export class DynamoAuditKeyStore implements KeyStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async load(tenantId: string): Promise<{ activeKid: string | null; keys: TenantKey[] }> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': pkOf(tenantId) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(r.Items ?? []));
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    const pointer = items.find((i) => i.sk === 'ACTIVE');
    return {
      activeKid: pointer ? String(pointer.kid) : null,
      keys: items.filter((i) => String(i.sk).startsWith('KEY#')).map(toKey),
    };
  }

  async initialize(key: TenantKey): Promise<boolean> {
    const pk = pkOf(key.tenant_id);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk, sk: 'ACTIVE', kid: key.kid, updated_at: key.created_at },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.table, Item: { ...key, pk, sk: `KEY#${key.kid}` } } },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

  async rotate(next: TenantKey, previousKid: string, retiredAt: string): Promise<boolean> {
    const pk = pkOf(next.tenant_id);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk, sk: 'ACTIVE', kid: next.kid, updated_at: retiredAt },
                ConditionExpression: 'kid = :prev',
                ExpressionAttributeValues: { ':prev': previousKid },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...next, pk, sk: `KEY#${next.kid}` },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              // Retired from signing only: no retire_after, the key stays in the audit key set for good.
              Update: {
                TableName: this.table,
                Key: { pk, sk: `KEY#${previousKid}` },
                UpdateExpression: 'SET #s = :retired, retired_at = :at',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: { ':retired': 'retired', ':at': retiredAt },
              },
            },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }
}
