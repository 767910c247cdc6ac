import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import type { EncryptedPayload, PayloadCipher } from '../../audit/index.js';
import type { ContentStore } from '../core/model.js';

/**
 * Prompt/completion content in the cold bucket under `tenants/<t>/<key>.json` (spans: `traces/content/<trace>/<span>`),
 * encrypted with the tenant data key (the audit sink's envelope cipher: KMS data key under the
 * tenant encryption context, AES-256-GCM, AAD = tenant|key). Already redacted by the caller.
 */
export class S3ContentStore implements ContentStore {
  constructor(
    private readonly bucket: string,
    private readonly cipher: PayloadCipher,
    private readonly client: S3Client = s3Client(),
  ) {}

  async put(tenantId: string, key: string, content: unknown): Promise<string> {
    const ref = `tenants/${encodeURIComponent(tenantId)}/${key}.json`;
    const enc = await this.cipher.encrypt(tenantId, ref, Buffer.from(JSON.stringify(content), 'utf8'));
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: ref,
        Body: JSON.stringify(enc),
        ContentType: 'application/json',
      }),
    );
    return ref;
  }

  async get(tenantId: string, ref: string): Promise<unknown> {
    if (!ref.startsWith(`tenants/${encodeURIComponent(tenantId)}/`))
      throw new Error('content reference outside the tenant');
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: ref }));
    const enc = JSON.parse(await r.Body!.transformToString()) as EncryptedPayload;
    return JSON.parse(Buffer.from(await this.cipher.decrypt(tenantId, ref, enc)).toString('utf8'));
  }
}
