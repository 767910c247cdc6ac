import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1, GSI2 } from './tables.js';

export interface ObservabilityProps {
  /** Registry the traces table is registered in (as `tracesTable`). */
  readonly registry: ResourceRegistry;
  /** Cold storage: encrypted prompt/completion content and OTLP logs/metrics under `tenants/<t>/`; shares the artifact bucket. */
  readonly coldBucket: s3.IBucket;
  /**
   * Removal policy of the hot traces table.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * C5 observability storage: the hot span store, one partition per (tenant, trace), TTL
 * `expires_at_epoch` (90 days from ingestion); gsi1 indexes spans by agent and time, gsi2 by day
 * and time (search, roll-ups, price recomputation). The functions come from the topology.
 */
export class Observability extends Construct {
  /** pk/sk, GSIs gsi1 (agent/time) and gsi2 (day/time), TTL `expires_at_epoch`. */
  readonly tracesTable: dynamodb.Table;
  /** Cold span storage (the shared artifact bucket). */
  readonly coldBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.coldBucket = props.coldBucket;
    this.tracesTable = arxTable(this, 'TracesTable', {
      gsis: [GSI1, GSI2],
      ttlAttribute: 'expires_at_epoch',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    props.registry.registerTable('tracesTable', this.tracesTable);
  }
}
