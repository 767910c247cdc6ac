/** Per-suite emulator resources for the audit integration tests (unique names, never a moto reset). */
import { randomBytes } from 'node:crypto';
import { createSingleTable } from '../../support/tables.js';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';

export const suffix = (): string => randomBytes(4).toString('hex');
export const s3 = (): S3Client => new S3Client({ forcePathStyle: true });

export async function createAuditTable(name: string): Promise<void> {
  await createSingleTable(name);
}

/** A versioned bucket with Object Lock and a default COMPLIANCE retention, as lib/audit.ts creates it. */
export async function createLockedBucket(name: string, days = 1): Promise<void> {
  const c = s3();
  await c.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }));
  await c.send(
    new PutObjectLockConfigurationCommand({
      Bucket: name,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: days } },
      },
    }),
  );
}

export async function createKeys(): Promise<{ dataKeyArn: string; signingKeyArn: string }> {
  const kms = new KMSClient({});
  const data = await kms.send(new CreateKeyCommand({ Description: 'audit data key (test)' }));
  const sign = await kms.send(
    new CreateKeyCommand({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Description: 'tenant signing key (test)',
    }),
  );
  return { dataKeyArn: data.KeyMetadata!.Arn!, signingKeyArn: sign.KeyMetadata!.Arn! };
}
