import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { s3Client, kmsClient } from '../../../lambdas/shared/aws.js';
import { RecordingPublisher } from '../../support/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { DynamoInventoryStore } from '../../../lambdas/identity/adapters/dynamo-inventory-store.js';
import type { AgentRecord, InventoryChange } from '../../../lambdas/shared/ports.js';
import type { AgentStatus } from '../../../lambdas/discovery/schemas.js';
import { createSingleTable } from '../../support/tables.js';
import { createTenantSigner } from '../../../lambdas/identity/signer.js';
import type { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import { TenantBundleSigner } from '../../../lambdas/policy/core/signing.js';

export const suffix = (): string => randomBytes(4).toString('hex');

/** Per-suite emulated resources: bundle bucket, signing key, revocation and control tables. */
export async function policyResources(name: string) {
  const s = `${name}-${suffix()}`;
  const bucket = `arx-bundles-${s}`;
  await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
  await s3Client().send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
  const key = await kmsClient().send(
    new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: `bundle signing ${s}` }),
  );
  const ddb = new DynamoDBClient({});
  const revocationTable = `arx-revocation-${s}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: revocationTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'tenant_id', AttributeType: 'S' },
        { AttributeName: 'agent_id', AttributeType: 'S' },
        { AttributeName: 'seq', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'tenant_id', KeyType: 'HASH' },
        { AttributeName: 'agent_id', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-time',
          KeySchema: [
            { AttributeName: 'tenant_id', KeyType: 'HASH' },
            { AttributeName: 'seq', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  const controlTable = `arx-control-${s}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: controlTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((a) => ({
        AttributeName: a,
        AttributeType: 'S' as const,
      })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: ['gsi1', 'gsi2'].map((g) => ({
        IndexName: g,
        KeySchema: [
          { AttributeName: `${g}pk`, KeyType: 'HASH' as const },
          { AttributeName: `${g}sk`, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  );
  const inventoryTable = `arx-inventory-${s}`;
  await createSingleTable(inventoryTable);
  return { bucket, keyArn: key.KeyMetadata!.Arn!, revocationTable, controlTable, inventoryTable };
}

/**
 * The production bundle signer over the suite's key registry: each tenant's bundles are signed
 * with that tenant's own KMS key (created on first use; `keyArn` is nobody's initial key).
 */
export function tenantSignerOf(r: { controlTable: string; keyArn: string }): {
  keys: TenantKeys;
  bundles: TenantBundleSigner;
} {
  const keys = createTenantSigner({ env: { ARX_CONTROL_TABLE: r.controlTable, ARX_SIGNING_KEY_ARN: r.keyArn } });
  return { keys, bundles: new TenantBundleSigner(keys) };
}

/**
 * Registers agents through discovery's real inventory store (the layout the inventory reader
 * reads) and changes their status or owner binding the way identity and the kill switch do.
 */
export function inventoryOf(r: { inventoryTable: string; controlTable: string }) {
  const store = new DynamoInventoryStore(
    r.inventoryTable,
    r.controlTable,
    new Outbox(r.controlTable, new RecordingPublisher()),
  );
  const change = (rec: AgentRecord, status: AgentStatus, at: string): InventoryChange => ({
    event_id: `evt_${suffix()}`,
    tenant_id: rec.tenant_id,
    agent_id: rec.agent_id,
    change: 'status',
    version: rec.version + 1,
    status,
    at,
    actor: 'test',
    correlation_id: 'c',
    trace_id: 't',
  });
  return {
    store,
    async register(tenantId: string, agentId: string, extra: Partial<AgentRecord> = {}): Promise<AgentRecord> {
      const at = new Date().toISOString();
      const rec: AgentRecord = {
        tenant_id: tenantId,
        agent_id: agentId,
        spiffe_id: `spiffe://${tenantId}.arx/test/${agentId}`,
        platform: 'langchain',
        platform_native_id: `${agentId}-${suffix()}`,
        owner: { oidc_sub: 'owner-1', attested_at: at, attestation_method: 'registration', status: 'live' },
        status: 'active',
        version: 1,
        created_at: at,
        valid_from: at,
        credential_generation: 1,
        changed_by: 'test',
        change_reason: 'registered',
        ...extra,
      };
      await store.create(rec, { ...change(rec, rec.status, at), change: 'registered', version: 1 });
      return rec;
    },
    async set(
      tenantId: string,
      agentId: string,
      patch: Partial<Pick<AgentRecord, 'status' | 'owner'>>,
    ): Promise<AgentRecord> {
      const cur = (await store.get(tenantId, agentId))!;
      const at = new Date().toISOString();
      return store.update(cur, patch, {
        at,
        actor: 'test',
        reason: 'test',
        change: change(cur, patch.status ?? cur.status, at),
      });
    },
  };
}

export const revocationEntry = (tenantId: string, agentId: string, at = new Date()) => ({
  tenant_id: tenantId,
  agent_id: agentId,
  spiffe_id: `spiffe://${tenantId}.arx/test/${agentId}`,
  revoked_at: at.toISOString(),
  reason_code: 'terminated' as const,
  ttl_until: new Date(at.getTime() + 30 * 86400_000).toISOString(),
});
