import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1 } from './tables.js';

export interface DiscoveryProps {
  /** Registry the inventory table is registered in. */
  readonly registry: ResourceRegistry;
}

/** C1 discovery storage: the agent inventory (SCD-2 versioned items). */
export class Discovery extends Construct {
  /** Inventory table: pk/sk, GSI gsi1, retained on stack deletion (ARX_INVENTORY_TABLE). */
  readonly inventoryTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: DiscoveryProps) {
    super(scope, id);
    this.inventoryTable = arxTable(this, 'InventoryTable', { gsis: [GSI1], removalPolicy: RemovalPolicy.RETAIN });
    props.registry.registerTable('inventoryTable', this.inventoryTable);
  }
}
