import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { s3Client, kmsClient } from '../../../lambdas/shared/aws.js';

export const suffix = (): string => randomBytes(4).toString('hex');

/** Per-suite emulated resources: bundle bucket, signing key, revocation and control tables. */
export async function policyResources(name: string) {
  const s = `${name}-${suffix()}`;
  const bucket = `arx-bundles-${s}`;
  await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
  await s3Client().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const key = await kmsClient().send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: `bundle signing ${s}` }));
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
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
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
  return { bucket, keyArn: key.KeyMetadata!.Arn!, revocationTable, controlTable };
}

export const revocationEntry = (tenantId: string, agentId: string, at = new Date()) => ({
  tenant_id: tenantId,
  agent_id: agentId,
  spiffe_id: `spiffe://${tenantId}.arx/test/${agentId}`,
  revoked_at: at.toISOString(),
  reason_code: 'terminated' as const,
  ttl_until: new Date(at.getTime() + 30 * 86400_000).toISOString(),
});
