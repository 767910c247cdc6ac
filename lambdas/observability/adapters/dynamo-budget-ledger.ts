import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { isConditionalCheckFailed, writeIf } from '../../shared/dynamo.js';
import { counterId, type BudgetLedger, type Counter } from '../core/budgets.js';
import type { Budget } from '../core/model.js';
import { DynamoSpanStore } from './dynamo-span-store.js';

/**
 * Budget counters on the traces table: `T#<t>#USAGE` / `SPEND#<scope>#<id>#<period>#<key>` with
 * `committed_usd` (settled + reserved), `reserved_usd`, `settled_usd`; reservations
 * `T#<t>#USAGE` / `RESV#<id>`. DynamoDB conditions cannot add, so reserve checks
 * `committed_usd <= limit − amount` and adds in the same conditional update.
 */
export class DynamoBudgetLedger implements BudgetLedger {
  private readonly spans: DynamoSpanStore;
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {
    this.spans = new DynamoSpanStore(table, client);
  }
  private key(t: string, c: Counter) {
    return { pk: `T#${t}#USAGE`, sk: `SPEND#${counterId(c)}` };
  }
  /** The budgets through the span store's short window (USAGE_CONFIG_CACHE_MS): the gate reads them on every action. */
  listBudgets(tenantId: string): Promise<Budget[]> {
    return this.spans.cachedBudgets(tenantId);
  }
  async committed(tenantId: string, c: Counter): Promise<number> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: this.key(tenantId, c), ConsistentRead: true }),
    );
    return Number(r.Item?.committed_usd ?? 0);
  }
  async tryReserve(tenantId: string, c: Counter, usd: number, limit: number): Promise<boolean> {
    // One atomic conditional update (a missing counter is zero): no read-then-write window.
    return writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(tenantId, c),
          UpdateExpression:
            'SET committed_usd = if_not_exists(committed_usd, :z) + :a, reserved_usd = if_not_exists(reserved_usd, :z) + :a, settled_usd = if_not_exists(settled_usd, :z) + :z',
          ConditionExpression: 'attribute_not_exists(committed_usd) OR committed_usd <= :max',
          ExpressionAttributeValues: { ':a': usd, ':max': limit - usd, ':z': 0 },
        }),
      ),
    );
  }
  private async add(tenantId: string, c: Counter, committed: number, reserved: number, settled: number): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: this.key(tenantId, c),
        UpdateExpression:
          'SET committed_usd = if_not_exists(committed_usd, :z) + :c, reserved_usd = if_not_exists(reserved_usd, :z) + :r, settled_usd = if_not_exists(settled_usd, :z) + :s',
        ExpressionAttributeValues: { ':c': committed, ':r': reserved, ':s': settled, ':z': 0 },
      }),
    );
  }
  addSettled(tenantId: string, c: Counter, usd: number): Promise<void> {
    return this.add(tenantId, c, usd, 0, usd);
  }
  release(tenantId: string, c: Counter, usd: number): Promise<void> {
    return this.add(tenantId, c, -usd, -usd, 0);
  }
  settle(tenantId: string, c: Counter, reserved: number, actual: number): Promise<void> {
    return this.add(tenantId, c, actual - reserved, -reserved, actual);
  }
  async putReservation(tenantId: string, id: string, r: { counters: Counter[]; usd: number }): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `T#${tenantId}#USAGE`, sk: `RESV#${id}`, doc: JSON.stringify(r) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }
  async takeReservation(tenantId: string, id: string): Promise<{ counters: Counter[]; usd: number } | null> {
    try {
      const r = await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: `T#${tenantId}#USAGE`, sk: `RESV#${id}` },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      return r.Attributes ? (JSON.parse(String(r.Attributes.doc)) as { counters: Counter[]; usd: number }) : null;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return null;
      throw e;
    }
  }
}
