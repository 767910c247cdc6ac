import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import type { ArtifactStore } from '../core/packages.js';

/** Compliance package artifacts in the artifact bucket (ARX_ARTIFACT_BUCKET). */
export class S3ArtifactStore implements ArtifactStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}
  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  }
  async get(key: string): Promise<Uint8Array | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await r.Body!.transformToByteArray();
    } catch (e) {
      if (['NoSuchKey', 'NotFound'].includes((e as { name?: string }).name ?? '')) return null;
      throw e;
    }
  }
}
