import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { s3Client } from '../../shared/aws.js';
import type { LakeWriter } from '../core/ports.js';

/**
 * OCSF JSON Lines in the custom-source layout Amazon Security Lake ingests:
 * `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/`, one source per OCSF
 * class (`arx-<class_uid>`), then `tenant=<tenant>/` so each tenant's records stay apart. The object
 * is named after the delivery, so a retried or replayed delivery overwrites its own record.
 */
export class S3LakeWriter implements LakeWriter {
  private where: Promise<{ region: string; account: string }> | undefined;
  constructor(
    private readonly bucket: string,
    private readonly prefix = 'security-lake/',
    private readonly s3: S3Client = s3Client(),
    private readonly sts: STSClient = new STSClient({}),
  ) {}

  private location(): Promise<{ region: string; account: string }> {
    this.where ??= (async () => ({
      region: await this.s3.config.region(),
      account: (await this.sts.send(new GetCallerIdentityCommand({}))).Account ?? 'unknown',
    }))().catch((e: unknown) => {
      this.where = undefined;
      throw e;
    });
    return this.where;
  }

  async write(o: { tenantId: string; source: string; day: string; name: string; lines: readonly string[] }) {
    const { region, account } = await this.location();
    const key = `${this.prefix}ext/${o.source}/region=${region}/accountId=${account}/eventDay=${o.day}/tenant=${o.tenantId}/${o.name}.jsonl`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: `${o.lines.join('\n')}\n`,
        ContentType: 'application/x-ndjson',
      }),
    );
    return key;
  }
}
