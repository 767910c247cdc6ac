import { fileURLToPath } from 'node:url';
import { AssetHashType, CfnOutput, DockerImage, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildLayerSync } from '../layers/pdp-extension/build.js';
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
  /**
   * The PDP Lambda extension (external extension `arx-pdp`, nodejs22.x, ARM64 and x86_64) for
   * agent functions: set ARX_TENANT_ID, ARX_BUNDLE_BUCKET, ARX_REVOCATION_TABLE, ARX_INVENTORY_TABLE,
   * ARX_SVID_ISSUER_BASE (the tenant's published keys verify bundles and callers' SVIDs), optionally
   * ARX_AGENT_ID (function-bound agent: callers send no SVID) and ARX_API_URL (decision log) on the function and grant it with
   * `grantPdpExtension(role, tenantId)`.
   */
  readonly pdpLayer: lambda.LayerVersion;
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

    const layerDir = fileURLToPath(new URL('../layers/pdp-extension', import.meta.url));
    this.pdpLayer = new lambda.LayerVersion(this, 'PdpExtension', {
      description: 'ARX PDP extension: signed Cedar bundles + revocation deltas, decisions on localhost',
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
      removalPolicy: RemovalPolicy.RETAIN,
      code: lambda.Code.fromAsset(layerDir, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // esbuild runs locally; the image is only the fallback CDK requires to be named
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: {
            tryBundle(outputDir: string): boolean {
              buildLayerSync(outputDir);
              return true;
            },
          },
        },
      }),
    });
    new CfnOutput(this, 'PdpExtensionLayerArn', {
      value: this.pdpLayer.layerVersionArn,
      description: 'ARX PDP extension layer',
    });
  }

  /**
   * Lets an agent function's role run the PDP extension for one tenant: read that tenant's live
   * pointer and bundles only (`tenants/<tenant>/*`, F14). The extension records decisions through
   * `POST /v1/enforcement/log` with the caller's SVID (ARX_API_URL), so agent roles must never be
   * granted the control table or the event bus.
   */
  grantPdpExtension(grantee: iam.IGrantable, tenantId: string): void {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenantId))
      throw new Error(`grantPdpExtension: '${tenantId}' is not a tenant id`);
    this.bundleBucket.grantRead(grantee, `tenants/${tenantId}/*`);
  }
}
