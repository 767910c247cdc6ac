import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { AccessLogs } from './access-logs.js';
import type { ArxFunction } from './arx-function.js';
import { addIam5Acks, type ArxFunctions, type ResourceRegistry } from './bindings.js';
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

    const sealer = this.functions.byName.get('audit-sealer');
    if (sealer) this.grantAuditKeyLifecycle(sealer);

    const tsaUrl = props.tsaUrl ?? (this.node.tryGetContext('arx:tsaUrl') as string | undefined);
    // The sealer anchors blocks with it; the audit API reports whether one is configured.
    if (tsaUrl) for (const fn of this.functions.byName.values()) fn.bindSetting('ARX_TSA_URL', tsaUrl);
  }

  /**
   * Audit signing keys (F8): the sealer creates one ECC_NIST_P256 key per tenant on first use and
   * on rotation, tagged `arx:purpose=audit` and `arx:tenant`, and points `alias/arx/<t>/audit` at
   * it. Signing with them is the `signingKey` grant (keys tagged `arx:tenant`). No deletion.
   */
  private grantAuditKeyLifecycle(f: ArxFunction): void {
    const fn = f.function;
    const arn = (resource: string): string => Stack.of(this).formatArn({ service: 'kms', resource });
    const requested = {
      Null: { 'aws:RequestTag/arx:tenant': 'false' },
      StringEquals: { 'aws:RequestTag/arx:purpose': 'audit' },
    };
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: {
          ...requested,
          StringEquals: { ...requested.StringEquals, 'kms:KeySpec': 'ECC_NIST_P256', 'kms:KeyUsage': 'SIGN_VERIFY' },
        },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:TagResource'], resources: [arn('key/*')], conditions: requested }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:UpdateAlias'],
        resources: [arn('alias/arx/*/audit')],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DescribeKey'],
        resources: [arn('key/*')],
        conditions: { StringEquals: { 'aws:ResourceTag/arx:purpose': 'audit' } },
      }),
    );
    const nag = (r: string): string => `Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:${r}`;
    addIam5Acks(f.role, [
      {
        appliesTo: 'Resource::*',
        reason:
          'kms:CreateKey has no resource ARN (the key does not exist yet); it is limited to ECC_NIST_P256/SIGN_VERIFY keys requested with arx:purpose=audit and an arx:tenant tag.',
      },
      {
        appliesTo: nag('key/*'),
        reason:
          'Audit keys are created per tenant at runtime; tagging, aliasing and describing are limited to keys tagged arx:purpose=audit.',
      },
      {
        appliesTo: nag('alias/arx/*/audit'),
        reason: 'One audit-key alias per tenant (alias/arx/<tenant>/audit); tenants are created at runtime.',
      },
    ]);
  }
}
