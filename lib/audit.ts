import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { AccessLogs } from './access-logs.js';
import type { ArxFunctions, ResourceRegistry } from './bindings.js';
import { arxTable, GSI1, GSI2 } from './tables.js';

export interface AuditProps {
  /** Registry the audit table and buckets are registered in. */
  readonly registry: ResourceRegistry;
  /** The topology's functions (for audit-specific additions such as a sealing workflow). */
  readonly functions: ArxFunctions;
  /** Where the audit and artifact buckets write their server access logs. */
  readonly accessLogs: AccessLogs;
  /**
   * Object Lock COMPLIANCE default retention of sealed audit blocks.
   * @default Duration.days(365)
   */
  readonly retention?: Duration;
  /**
   * RFC 3161 timestamp authority the sealer anchors blocks with (ARX_TSA_URL on the sealer and
   * the audit API). Unset: blocks are sealed and signed but stay un-anchored, and
   * GET /v1/audit/chain/status says so.
   * @default the `arx:tsaUrl` context value, else none
   */
  readonly tsaUrl?: string;
}

/**
 * C5 audit storage: the hash-chained event table, the Object Lock (COMPLIANCE) bucket sealed
 * blocks are written to, and the artifact bucket (compliance packages, exit attestations).
 * Everything is retained on stack deletion.
 */
export class Audit extends Construct {
  /** pk/sk, GSIs gsi1 and gsi2 (ARX_AUDIT_TABLE). */
  readonly auditTable: dynamodb.Table;
  /** Versioned, Object Lock COMPLIANCE with a default retention (ARX_AUDIT_BUCKET). */
  readonly auditBucket: s3.Bucket;
  /** Compliance packages and exit attestations (ARX_ARTIFACT_BUCKET). */
  readonly artifactBucket: s3.Bucket;
  protected readonly functions: ArxFunctions;

  constructor(scope: Construct, id: string, props: AuditProps) {
    super(scope, id);
    this.functions = props.functions;
    this.auditTable = arxTable(this, 'AuditTable', { gsis: [GSI1, GSI2], removalPolicy: RemovalPolicy.RETAIN });
    this.auditBucket = new s3.Bucket(this, 'AuditBucket', {
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(props.retention ?? Duration.days(365)),
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      ...props.accessLogs.forBucket('audit'),
    });
    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      ...props.accessLogs.forBucket('artifacts'),
    });
    props.registry.registerTable('auditTable', this.auditTable);
    props.registry.registerBucket('auditBucket', this.auditBucket);
    props.registry.registerBucket('artifactBucket', this.artifactBucket);

    const tsaUrl = props.tsaUrl ?? (this.node.tryGetContext('arx:tsaUrl') as string | undefined);
    if (tsaUrl) {
      for (const name of ['audit-sealer', 'audit-api']) this.functions.byName.get(name)?.addEnvironment('ARX_TSA_URL', tsaUrl);
    }
  }
}
