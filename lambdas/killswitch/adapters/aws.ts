import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import { SagaAlreadyStartedError, type AttestationWriter, type SagaStarter } from '../core/ports.js';

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
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: terminationId,
          input: JSON.stringify(input),
        }),
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
 * Writes exit attestations to the audit bucket (Object Lock COMPLIANCE) under
 * `tenants/<tenant>/attestations/<termination_id>.<ext>`; returns the s3:// URL of the JSON.
 */
export class S3AttestationWriter implements AttestationWriter {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}

  async write(
    tenantId: string,
    terminationId: string,
    files: readonly { name: string; body: Uint8Array; contentType: string }[],
  ): Promise<string> {
    let url = '';
    for (const f of files) {
      const key = `tenants/${tenantId}/attestations/${terminationId}.${f.name}`;
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: f.body,
          ContentType: f.contentType,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      if (f.name === 'json' || !url) url = `s3://${this.bucket}/${key}`;
    }
    return url;
  }
}
