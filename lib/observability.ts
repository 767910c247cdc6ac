import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1 } from './tables.js';

export interface ObservabilityProps {
  /** Registry the traces table is registered in (as `tracesTable`). */
  readonly registry: ResourceRegistry;
  /** Cold span storage (partitioned JSON under `traces/`); shares the artifact bucket. */
  readonly coldBucket: s3.IBucket;
  /**
   * Removal policy of the hot traces table.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * C4 observability storage: the hot span store by trace id (TTL `expires_at_epoch`) and the cold
 * bucket spans are exported to. Storage only until the observability capability adds functions.
 */
export class Observability extends Construct {
  /** pk/sk, GSI gsi1, TTL `expires_at_epoch`. */
  readonly tracesTable: dynamodb.Table;
  /** Cold span storage (the shared artifact bucket). */
  readonly coldBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.coldBucket = props.coldBucket;
    this.tracesTable = arxTable(this, 'TracesTable', {
      gsis: [GSI1],
      ttlAttribute: 'expires_at_epoch',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    props.registry.registerTable('tracesTable', this.tracesTable);
  }
}
