import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { COLD_SPAN_TAG } from '../lambdas/observability/topology.js';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1, GSI2 } from './tables.js';

/** The seed's cold span retention: 7 years (7 × 365 + 2 leap days). */
export const DEFAULT_COLD_SPAN_RETENTION = Duration.days(2557);
/** When cold copies leave S3 Standard: once the hot copy in DynamoDB has expired (90 days). */
export const DEFAULT_COLD_SPAN_TRANSITION = Duration.days(90);

export interface ObservabilityProps {
  /** Registry the traces table is registered in (as `tracesTable`). */
  readonly registry: ResourceRegistry;
  /**
   * Cold storage: encrypted prompt/completion content, OTLP logs/metrics and the Parquet span copies
   * under `tenants/<t>/`; shares the artifact bucket, which gets the cold copies' lifecycle rule.
   */
  readonly coldBucket: s3.Bucket;
  /**
   * Removal policy of the hot traces table.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long the Parquet cold span copies (and their trace-id index entries) are kept, from when
   * they were written; then they expire, and their noncurrent versions 1 day later.
   * @default the `arx:coldSpanRetentionDays` context value, else DEFAULT_COLD_SPAN_RETENTION (7 years)
   */
  readonly coldSpanRetention?: Duration;
  /**
   * When cold span copies move to S3 Glacier Instant Retrieval (millisecond range reads, so trace
   * lookups and search over cold days keep working). Must be shorter than the retention.
   * @default the `arx:coldSpanTransitionDays` context value, else DEFAULT_COLD_SPAN_TRANSITION (90 days)
   */
  readonly coldSpanTransitionAfter?: Duration;
}

/**
 * C5 observability storage: the hot span store, one partition per (tenant, trace), TTL
 * `expires_at_epoch` (90 days from ingestion); gsi1 indexes spans by agent and time, gsi2 by day
 * and time (search, roll-ups, price recomputation). The cold Parquet copies in the artifact bucket
 * move to Glacier Instant Retrieval and expire by a lifecycle rule selecting their tag
 * (`COLD_SPAN_TAG`: their keys are under each tenant's prefix). The functions come from the topology.
 */
export class Observability extends Construct {
  /** pk/sk, GSIs gsi1 (agent/time) and gsi2 (day/time), TTL `expires_at_epoch`. */
  readonly tracesTable: dynamodb.Table;
  /** Cold span storage (the shared artifact bucket). */
  readonly coldBucket: s3.IBucket;
  /** The cold copies' retention and transition, as applied. */
  readonly coldSpanRetention: Duration;
  readonly coldSpanTransitionAfter: Duration;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.coldBucket = props.coldBucket;
    this.tracesTable = arxTable(this, 'TracesTable', {
      gsis: [GSI1, GSI2],
      ttlAttribute: 'expires_at_epoch',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    props.registry.registerTable('tracesTable', this.tracesTable);

    this.coldSpanRetention =
      props.coldSpanRetention ?? this.daysFromContext('arx:coldSpanRetentionDays') ?? DEFAULT_COLD_SPAN_RETENTION;
    this.coldSpanTransitionAfter =
      props.coldSpanTransitionAfter ??
      this.daysFromContext('arx:coldSpanTransitionDays') ??
      DEFAULT_COLD_SPAN_TRANSITION;
    const keep = this.coldSpanRetention.toDays({ integral: false });
    const move = this.coldSpanTransitionAfter.toDays({ integral: false });
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`cold span retention must be whole days ≥ 1, got ${keep}`);
    if (!Number.isInteger(move) || move < 1 || move >= keep) {
      throw new Error(
        `cold span transition must be whole days ≥ 1 and shorter than the retention (${keep}), got ${move}`,
      );
    }
    props.coldBucket.addLifecycleRule({
      id: 'ColdSpanCopies',
      tagFilters: { [COLD_SPAN_TAG.key]: COLD_SPAN_TAG.value },
      transitions: [
        { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: this.coldSpanTransitionAfter },
      ],
      expiration: this.coldSpanRetention,
      // the bucket is versioned: an expired copy leaves a noncurrent version, gone a day later
      noncurrentVersionExpiration: Duration.days(1),
    });
  }

  /** A whole number of days from context (`-c key=N` arrives as a string); refuses anything else. */
  private daysFromContext(key: string): Duration | undefined {
    const v: unknown = this.node.tryGetContext(key);
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${key} must be a whole number of days ≥ 1, got ${JSON.stringify(v)}`);
    return Duration.days(n);
  }
}
