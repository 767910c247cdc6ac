import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll, writeIf } from '../../shared/dynamo.js';
import type { ChangeLog } from '../core/change-log.js';
import type { InventoryChange } from '../../shared/ports.js';

/** Change log in the control table: pk `T#<tenant>#INVCHG#<agent>`, sk event id; conditional put de-duplicates. */
export class DynamoChangeLog implements ChangeLog {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  recordOnce(change: InventoryChange, receivedAt: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `T#${change.tenant_id}#INVCHG#${change.agent_id}`,
            sk: change.event_id,
            ...change,
            received_at: receivedAt,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async list(tenantId: string, agentId: string): Promise<InventoryChange[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': `T#${tenantId}#INVCHG#${agentId}` },
      ConsistentRead: true,
    });
    return items.map(({ pk: _p, sk: _s, received_at: _r, ...c }) => c as unknown as InventoryChange);
  }
}
