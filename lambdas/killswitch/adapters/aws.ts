import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ListResourceTagsCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { kmsClient, s3Client } from '../../shared/aws.js';
import { SagaAlreadyStartedError, type AttestationWriter, type SagaStarter, type Signer } from '../core/ports.js';

let sfn: SFNClient | undefined;
export const sfnClient = (): SFNClient => (sfn ??= new SFNClient({}));

/** Starts the termination saga on Step Functions; the execution name is the termination id. */
export class SfnSagaStarter implements SagaStarter {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = sfnClient(),
  ) {}

  async start(terminationId: string, input: { termination_id: string; tenant_id: string }): Promise<string> {
    try {
      const r = await this.client.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: terminationId, input: JSON.stringify(input) }),
      );
      return r.executionArn!;
    } catch (e) {
      if ((e as { name?: string }).name === 'ExecutionAlreadyExists') {
        throw new SagaAlreadyStartedError(`an execution named ${terminationId} already exists`, { cause: e });
      }
      throw e;
    }
  }
}

/**
 * Signs with the tenant's KMS key (ECC_NIST_P256, ECDSA_SHA_256, MessageType RAW: KMS hashes the
 * message). Returns the DER signature KMS produces. Never falls back to a local key.
 */
export class KmsSigner implements Signer {
  constructor(
    private readonly keyIdFor: (tenantId: string) => string | Promise<string>,
    private readonly client: KMSClient = kmsClient(),
  ) {}

  async sign(tenantId: string, data: Uint8Array) {
    if (data.byteLength > 4096) throw new RangeError('KMS RAW signing takes at most 4096 bytes; sign a digest statement');
    const keyId = await this.keyIdFor(tenantId);
    const r = await this.client.send(new SignCommand({ KeyId: keyId, Message: data, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }));
    if (!r.Signature) throw new Error('KMS returned no signature');
    return { signature: r.Signature, keyId: r.KeyId ?? keyId, algorithm: 'ECDSA_SHA_256', format: 'der' as const };
  }
}

/** The tenant has no signing key of its own: nothing is signed (F25: never another tenant's key). */
export class TenantKeyMissingError extends Error {
  override readonly name = 'TenantKeyMissingError';
}

/**
 * Signs with the tenant's own key: `alias/arx/<tenant>/signing`, or the initial key
 * (ARX_SIGNING_KEY_ARN) only when its `arx:tenant` tag names this tenant. Any other tenant without
 * an alias gets TenantKeyMissingError, never a signature by someone else's key (F25).
 */
export class TenantKeySigner implements Signer {
  private readonly owner = new Map<string, Promise<string | null>>();
  constructor(
    private readonly initialKeyArn: string | undefined,
    private readonly client: KMSClient = kmsClient(),
  ) {}

  private initialOwner(): Promise<string | null> {
    const arn = this.initialKeyArn;
    if (!arn) return Promise.resolve(null);
    let p = this.owner.get(arn);
    if (!p) {
      p = this.client
        .send(new ListResourceTagsCommand({ KeyId: arn }))
        .then((r) => r.Tags?.find((t) => t.TagKey === 'arx:tenant')?.TagValue ?? null);
      p.catch(() => this.owner.delete(arn));
      this.owner.set(arn, p);
    }
    return p;
  }

  async sign(tenantId: string, data: Uint8Array) {
    try {
      return await new KmsSigner(() => `alias/arx/${tenantId}/signing`, this.client).sign(tenantId, data);
    } catch (e) {
      if ((e as Error).name !== 'NotFoundException') throw e;
    }
    if (this.initialKeyArn && (await this.initialOwner()) === tenantId) return new KmsSigner(() => this.initialKeyArn!, this.client).sign(tenantId, data);
    throw new TenantKeyMissingError(`tenant ${tenantId} has no signing key (alias/arx/${tenantId}/signing); the attestation is not signed with another key`);
  }
}

/**
 * Writes exit attestations to the audit bucket (Object Lock COMPLIANCE) under
 * `tenants/<tenant>/attestations/<termination_id>.<ext>`; returns the s3:// URL of the JSON.
 */
export class S3AttestationWriter implements AttestationWriter {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}

  async write(tenantId: string, terminationId: string, files: readonly { name: string; body: Uint8Array; contentType: string }[]): Promise<string> {
    let url = '';
    for (const f of files) {
      const key = `tenants/${tenantId}/attestations/${terminationId}.${f.name}`;
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: f.body, ContentType: f.contentType, ChecksumAlgorithm: 'SHA256' }),
      );
      if (f.name === 'json' || !url) url = `s3://${this.bucket}/${key}`;
    }
    return url;
  }
}
