import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { AccessLogs } from './access-logs.js';
import type { ArxFunctions, ResourceRegistry, SharedHandles } from './bindings.js';

export interface PolicyProps {
  /** Registry the bundle bucket is registered in. */
  readonly registry: ResourceRegistry;
  /** Shared platform handles (bus, control table, data key). */
  readonly shared: SharedHandles;
  /** The topology's functions (the PDP extension layer is attached to them here). */
  readonly functions: ArxFunctions;
  /** Where the bundle bucket writes its server access logs. */
  readonly accessLogs: AccessLogs;
  /**
   * Removal policy of the bundle bucket.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * C3 policy storage: the versioned bucket of compiled Cedar policy bundles (ARX_BUNDLE_BUCKET).
 * The PDP extension layer (layers/) is added here by the policy capability.
 */
export class Policy extends Construct {
  /** Versioned, S3-managed encryption, TLS only, public access blocked, access-logged. */
  readonly bundleBucket: s3.Bucket;
  protected readonly functions: ArxFunctions;
  protected readonly shared: SharedHandles;

  constructor(scope: Construct, id: string, props: PolicyProps) {
    super(scope, id);
    this.functions = props.functions;
    this.shared = props.shared;
    this.bundleBucket = new s3.Bucket(this, 'BundleBucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...props.accessLogs.forBucket('bundles'),
    });
    props.registry.registerBucket('bundleBucket', this.bundleBucket);
  }
}
