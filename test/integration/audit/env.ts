/** Per-suite emulator resources for the audit integration tests (unique names, never a moto reset). */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';

export const suffix = (): string => randomBytes(4).toString('hex');
export const s3 = (): S3Client => new S3Client({ forcePathStyle: true });

export async function createAuditTable(name: string): Promise<void> {
  const gsi = (n: string) => ({
    IndexName: n,
    KeySchema: [
      { AttributeName: `${n}pk`, KeyType: 'HASH' as const },
      { AttributeName: `${n}sk`, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  await new DynamoDBClient({}).send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [gsi('gsi1'), gsi('gsi2')],
    }),
  );
}

/** A versioned bucket with Object Lock and a default COMPLIANCE retention, as lib/audit.ts creates it. */
export async function createLockedBucket(name: string, days = 1): Promise<void> {
  const c = s3();
  await c.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }));
  await c.send(
    new PutObjectLockConfigurationCommand({
      Bucket: name,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: days } } },
    }),
  );
}

export async function createKeys(): Promise<{ dataKeyArn: string; signingKeyArn: string }> {
  const kms = new KMSClient({});
  const data = await kms.send(new CreateKeyCommand({ Description: 'audit data key (test)' }));
  const sign = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'tenant signing key (test)' }));
  return { dataKeyArn: data.KeyMetadata!.Arn!, signingKeyArn: sign.KeyMetadata!.Arn! };
}
