/**
 * Audit signing keys (F8): per-tenant KMS ECC_NIST_P256 keys used only to sign audit block heads,
 * registered in the audit table and never removed from the published audit key set, so every
 * block ever sealed verifies after any rotation. Separate from the SVID keys of identity, whose
 * retired keys leave the JWKS about an hour after a rotation.
 */
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  GetPublicKeyCommand,
  SignCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionalCheckFailed, kmsClient } from '../../shared/aws.js';
import type { KeyManager, KeyStore, TenantKey } from '../../identity/index.js';

/** Tags of every audit key: the tenant (as identity's keys, so the sealer's kms:Sign grant applies) and the purpose. */
export const TENANT_TAG = 'arx:tenant';
export const PURPOSE_TAG = 'arx:purpose';
export const AUDIT_PURPOSE = 'audit';
export const auditKeyAlias = (tenantId: string): string => `alias/arx/${tenantId}/audit`;

const isNotFound = (e: unknown): boolean => (e as { name?: string }).name === 'NotFoundException';

/** KMS side of audit keys: `alias/arx/<tenant>/audit` points at the active one. */
export class KmsAuditKeyManager implements KeyManager {
  constructor(private readonly client: KMSClient = kmsClient()) {}

  async findProvisionedKey(tenantId: string): Promise<string | null> {
    try {
      const m = (await this.client.send(new DescribeKeyCommand({ KeyId: auditKeyAlias(tenantId) }))).KeyMetadata;
      return m?.Arn && m.KeyState === 'Enabled' && m.KeySpec === 'ECC_NIST_P256' && m.KeyUsage === 'SIGN_VERIFY' ? m.Arn : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async createKey(tenantId: string): Promise<string> {
    const r = await this.client.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: `ARX audit signing key of tenant ${tenantId} (block heads; never retired from the audit key set)`,
        Tags: [
          { TagKey: TENANT_TAG, TagValue: tenantId },
          { TagKey: PURPOSE_TAG, TagValue: AUDIT_PURPOSE },
        ],
      }),
    );
    if (!r.KeyMetadata?.Arn) throw new Error('KMS CreateKey returned no ARN');
    return r.KeyMetadata.Arn;
  }

  async pointAlias(tenantId: string, keyArn: string): Promise<void> {
    const keyId = keyArn.split('/').pop()!;
    try {
      await this.client.send(new UpdateAliasCommand({ AliasName: auditKeyAlias(tenantId), TargetKeyId: keyId }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.client.send(new CreateAliasCommand({ AliasName: auditKeyAlias(tenantId), TargetKeyId: keyId }));
    }
  }

  async getPublicKey(keyArn: string): Promise<Uint8Array> {
    const r = await this.client.send(new GetPublicKeyCommand({ KeyId: keyArn }));
    if (!r.PublicKey) throw new Error('KMS GetPublicKey returned no key');
    return r.PublicKey;
  }

  async sign(keyArn: string, message: Uint8Array): Promise<Uint8Array> {
    const r = await this.client.send(new SignCommand({ KeyId: keyArn, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }));
    if (!r.Signature) throw new Error('KMS Sign returned no signature');
    return r.Signature;
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
        new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': pkOf(tenantId) }, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(r.Items ?? []));
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    const pointer = items.find((i) => i.sk === 'ACTIVE');
    return { activeKid: pointer ? String(pointer.kid) : null, keys: items.filter((i) => String(i.sk).startsWith('KEY#')).map(toKey) };
  }

  async initialize(key: TenantKey): Promise<boolean> {
    const pk = pkOf(key.tenant_id);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: { pk, sk: 'ACTIVE', kid: key.kid, updated_at: key.created_at }, ConditionExpression: 'attribute_not_exists(pk)' } },
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
            { Put: { TableName: this.table, Item: { pk, sk: 'ACTIVE', kid: next.kid, updated_at: retiredAt }, ConditionExpression: 'kid = :prev', ExpressionAttributeValues: { ':prev': previousKid } } },
            { Put: { TableName: this.table, Item: { ...next, pk, sk: `KEY#${next.kid}` }, ConditionExpression: 'attribute_not_exists(pk)' } },
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
