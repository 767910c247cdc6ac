import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { writeIf } from '../../shared/dynamo.js';
import type { IdempotencyRecord, IdempotencyStore } from '../core/idempotency.js';

/**
 * Idempotency records in the control table: `T#<tenant>#IDEMP#<key>` / `IDEMP`, forgotten by the
 * table's TTL (`expires_at_epoch`, 24 h). Every transition is a conditional write, so two
 * concurrent requests with one key cannot both claim it.
 */
const idempKey = (t: string, key: string) => ({ pk: `T#${t}#IDEMP#${key}`, sk: 'IDEMP' });

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async claim(r: IdempotencyRecord, nowEpoch: number): Promise<IdempotencyRecord | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimed = await writeIf(
        this.client.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...idempKey(r.tenant_id, r.key), ...r },
            // TTL deletion is lazy: an expired record is as good as absent.
            ConditionExpression: 'attribute_not_exists(pk) OR expires_at_epoch < :now',
            ExpressionAttributeValues: { ':now': nowEpoch },
          }),
        ),
      );
      if (claimed) return null;
      const got = await this.client.send(
        new GetCommand({ TableName: this.table, Key: idempKey(r.tenant_id, r.key), ConsistentRead: true }),
      );
      // Gone between the two calls (TTL, release): claim again.
      if (got.Item) {
        const { pk: _p, sk: _s, ...rest } = got.Item;
        return rest as IdempotencyRecord;
      }
    }
    throw new Error('idempotency record kept changing under the claim');
  }

  takeOver(r: IdempotencyRecord, previousClaimedAt: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: idempKey(r.tenant_id, r.key),
          UpdateExpression: 'SET claimed_at = :c',
          ConditionExpression: '#s = :ip AND claimed_at = :prev',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':c': r.claimed_at, ':ip': 'in_progress', ':prev': previousClaimedAt },
        }),
      ),
    );
  }

  async complete(tenantId: string, key: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: idempKey(tenantId, key),
        UpdateExpression: 'SET #s = :done',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':done': 'completed' },
      }),
    );
  }

  /** Deletes the claim if it is still this action's and in progress; otherwise leaves it be. */
  async release(tenantId: string, key: string, actionId: string): Promise<void> {
    await writeIf(
      this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: idempKey(tenantId, key),
          ConditionExpression: 'action_id = :a AND #s = :ip',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':a': actionId, ':ip': 'in_progress' },
        }),
      ),
    );
  }

  /** The raw record (tests, operators). */
  async get(tenantId: string, key: string): Promise<IdempotencyRecord | null> {
    const got = await this.client.send(
      new GetCommand({ TableName: this.table, Key: idempKey(tenantId, key), ConsistentRead: true }),
    );
    if (!got.Item) return null;
    const { pk: _p, sk: _s, ...rest } = got.Item;
    return rest as IdempotencyRecord;
  }
}
