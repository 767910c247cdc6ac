import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AuditBlock } from '../core/block.js';
import type { Destination, DestinationWriter } from '../core/ports.js';

let sts: STSClient | undefined;
const stsClient = (): STSClient => (sts ??= new STSClient({}));

/** Key of a block under a destination prefix: `<prefix>/<height, 12 digits>.json` (what arx-verify lists). */
export const destinationKey = (d: Pick<Destination, 'prefix'>, height: number): string => {
  const p = d.prefix.replace(/^\/+|\/+$/g, '');
  return `${p ? `${p}/` : ''}${String(height).padStart(12, '0')}.json`;
};

/** The handshake object (not a block: arx-verify lists only `<12 digits>.json`). */
export const handshakeKey = (d: Pick<Destination, 'prefix'>): string => {
  const p = d.prefix.replace(/^\/+|\/+$/g, '');
  return `${p ? `${p}/` : ''}arx-destination.json`;
};

/**
 * Writes blocks to a customer bucket through a cross-account role (sts:AssumeRole with the
 * customer's external id, a 15-minute session scoped by an inline policy to PutObject under
 * the destination prefix). Credentials are cached until shortly before they expire.
 */
export class S3DestinationWriter implements DestinationWriter {
  private readonly sessions = new Map<string, { client: S3Client; until: number }>();
  constructor(
    private readonly sts: STSClient = stsClient(),
    private readonly makeS3: (
      creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string },
      region?: string,
    ) => S3Client = (creds, region) =>
      new S3Client({
        credentials: creds,
        forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL),
        ...(region ? { region } : {}),
      }),
  ) {}

  /** The session policy sent with AssumeRole (exported for tests: moto does not enforce it). */
  static sessionPolicy(d: Destination): string {
    const p = d.prefix.replace(/^\/+|\/+$/g, '');
    return JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${d.bucket}/${p ? `${p}/` : ''}*`] },
      ],
    });
  }

  private async client(d: Destination): Promise<S3Client> {
    const hit = this.sessions.get(d.destination_id);
    if (hit && hit.until > Date.now() + 60_000) return hit.client;
    const r = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: d.role_arn,
        RoleSessionName: `arx-audit-${d.tenant_id}`.slice(0, 64),
        DurationSeconds: 900,
        Policy: S3DestinationWriter.sessionPolicy(d),
        ExternalId: d.external_id,
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('AssumeRole returned no credentials');
    const client = this.makeS3(
      { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
      d.region,
    );
    this.sessions.set(d.destination_id, {
      client,
      until: c.Expiration ? c.Expiration.getTime() : Date.now() + 900_000,
    });
    return client;
  }

  /** Writes `<prefix>/arx-destination.json` through the assumed role (what the handshake proves). */
  async handshake(d: Destination, at: string): Promise<void> {
    this.sessions.delete(d.destination_id); // a fresh AssumeRole with the tenant's external id
    const s3 = await this.client(d);
    await s3.send(
      new PutObjectCommand({
        Bucket: d.bucket,
        Key: handshakeKey(d),
        Body: JSON.stringify({ arx_destination: d.destination_id, tenant_id: d.tenant_id, verified_at: at }),
        ContentType: 'application/json',
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  }

  async write(d: Destination, block: AuditBlock): Promise<void> {
    const s3 = await this.client(d);
    await s3.send(
      new PutObjectCommand({
        Bucket: d.bucket,
        Key: destinationKey(d, block.head.height),
        Body: JSON.stringify(block),
        ContentType: 'application/json',
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  }
}
