import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import { blockKey, type AuditBlock } from '../core/block.js';
import type { BlockStore } from '../core/ports.js';

const isMissing = (e: unknown): boolean => ['NoSuchKey', 'NotFound'].includes((e as { name?: string }).name ?? '');
/** S3's answer to `If-None-Match: *` on a key that has an object: 412 Precondition Failed. */
const isTaken = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'PreconditionFailed' || err.$metadata?.httpStatusCode === 412;
};

/**
 * Blocks in the Object Lock (COMPLIANCE) audit bucket at `tenants/<t>/blocks/<height>.json`.
 * The bucket's default retention locks every version; with `retentionDays` the retention is also
 * sent explicitly per object (needs s3:PutObjectRetention). A block's first version is written
 * only if the key has none (`putNew`); anchoring later writes a new version of the same key;
 * earlier versions stay locked.
 */
export class S3BlockStore implements BlockStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
    private readonly retentionDays?: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(block: AuditBlock): Promise<{ key: string; version_id: string | null }> {
    return (await this.write(block, false))!;
  }

  /** A conditional write (`If-None-Match: *`): S3 answers 412 when the key has an object already. */
  putNew(block: AuditBlock): Promise<{ key: string; version_id: string | null } | null> {
    return this.write(block, true);
  }

  private async write(block: AuditBlock, onlyNew: boolean): Promise<{ key: string; version_id: string | null } | null> {
    const key = blockKey(block.head.tenant_id, block.head.height);
    const body = JSON.stringify(block);
    const r = await this.client
      .send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
          ...(onlyNew ? { IfNoneMatch: '*' } : {}),
          ...(this.retentionDays
            ? {
                ObjectLockMode: 'COMPLIANCE' as const,
                ObjectLockRetainUntilDate: new Date(this.now().getTime() + this.retentionDays * 86_400_000),
              }
            : {}),
        }),
      )
      .catch((e: unknown) => {
        if (onlyNew && isTaken(e)) return null;
        throw e;
      });
    return r ? { key, version_id: r.VersionId ?? null } : null;
  }

  async get(tenantId: string, height: number): Promise<AuditBlock | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: blockKey(tenantId, height) }));
      return JSON.parse(await r.Body!.transformToString()) as AuditBlock;
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }
}
