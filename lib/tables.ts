import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';

/** A GSI with string partition and sort keys. */
export interface GsiSpec {
  readonly name: string;
  readonly pk: string;
  readonly sk: string;
  /** @default dynamodb.AttributeType.STRING */
  readonly skType?: dynamodb.AttributeType;
}

export interface ArxTableOptions {
  /** @default 'pk' */
  readonly partitionKey?: string;
  /** @default 'sk' */
  readonly sortKey?: string;
  /** @default [] */
  readonly gsis?: readonly GsiSpec[];
  /** TTL attribute name. @default no TTL */
  readonly ttlAttribute?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one table shape of ARX: on-demand, point-in-time recovery on, encrypted at rest with the
 * AWS managed key (the local runtime provisions the same table from the template), string keys.
 */
export function arxTable(scope: Construct, id: string, o: ArxTableOptions = {}): dynamodb.Table {
  const table = new dynamodb.Table(scope, id, {
    partitionKey: { name: o.partitionKey ?? 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: o.sortKey ?? 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: o.ttlAttribute,
    removalPolicy: o.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  for (const g of o.gsis ?? []) {
    table.addGlobalSecondaryIndex({
      indexName: g.name,
      partitionKey: { name: g.pk, type: dynamodb.AttributeType.STRING },
      sortKey: { name: g.sk, type: g.skType ?? dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  return table;
}

export const GSI1: GsiSpec = { name: 'gsi1', pk: 'gsi1pk', sk: 'gsi1sk' };
export const GSI2: GsiSpec = { name: 'gsi2', pk: 'gsi2pk', sk: 'gsi2sk' };
