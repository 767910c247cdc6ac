import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1, GSI2 } from './tables.js';

export interface PlatformStorageProps {
  /** Registry the control table and data key are registered in. */
  readonly registry: ResourceRegistry;
  /**
   * Removal policy of the control table and the data key.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Shared platform storage: the generic single control table every capability prefixes its keys
 * in (`T#<tenant>#<CAPABILITY>#…`), and the symmetric data key for application-level envelope
 * encryption.
 */
export class PlatformStorage extends Construct {
  /** Control table: pk/sk, GSIs gsi1 and gsi2, TTL `expires_at_epoch` (ARX_CONTROL_TABLE). */
  readonly controlTable: dynamodb.Table;
  /** Symmetric data key with yearly rotation (ARX_DATA_KEY_ARN). */
  readonly dataKey: kms.Key;

  constructor(scope: Construct, id: string, props: PlatformStorageProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.controlTable = arxTable(this, 'ControlTable', {
      gsis: [GSI1, GSI2],
      ttlAttribute: 'expires_at_epoch',
      removalPolicy,
    });
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'ARX data key (symmetric, envelope encryption of tenant data)',
      enableKeyRotation: true,
      removalPolicy,
    });
    props.registry.registerTable('controlTable', this.controlTable);
    props.registry.registerDataKey('dataKey', this.dataKey);
  }
}
