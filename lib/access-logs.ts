import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface AccessLogsProps {
  /**
   * How long server access logs are kept.
   * @default Duration.days(400)
   */
  readonly expiration?: Duration;
}

/**
 * The dedicated S3 server-access-log bucket every ARX bucket logs to (S3-managed encryption —
 * the log delivery service cannot write to SSE-KMS targets — TLS only, public access blocked).
 */
export class AccessLogs extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        { expiration: props.expiration ?? Duration.days(400), noncurrentVersionExpiration: Duration.days(30) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(this.bucket, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'This is the server-access-log target bucket itself; logging it to itself would loop and logging it elsewhere only moves the problem.',
      },
    ]);
  }

  /** Server-access-log options for a bucket, each under its own prefix. */
  forBucket(prefix: string): Pick<s3.BucketProps, 'serverAccessLogsBucket' | 'serverAccessLogsPrefix'> {
    return { serverAccessLogsBucket: this.bucket, serverAccessLogsPrefix: `${prefix}/` };
  }
}
