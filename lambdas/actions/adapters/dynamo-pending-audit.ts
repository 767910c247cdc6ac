import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll } from '../../shared/dynamo.js';
import type { AuditRecordInput } from '../../shared/ports.js';
import type { PendingAudit, PendingAuditStore } from '../core/durable-audit.js';

/** Parked audit writes in the control table: `AUDIT#PENDING` / `<key>`, the input as JSON, with the time parked and failed drains. */
const PK = 'AUDIT#PENDING';

export class DynamoPendingAuditStore implements PendingAuditStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async put(key: string, input: AuditRecordInput, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: PK, sk: key, parked_at: at, input_json: JSON.stringify(input), attempts: 0 },
      }),
    );
  }

  /** The first `limit` parked writes in key order, read 100 at a time. */
  async list(limit: number): Promise<PendingAudit[]> {
    if (limit <= 0) return [];
    const items = await queryAll(
      this.client,
      { TableName: this.table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': PK }, Limit: 100 },
      limit,
    );
    return items.map((it) => ({
      key: String(it.sk),
      input: JSON.parse(String(it.input_json)) as AuditRecordInput,
      attempts: Number(it.attempts ?? 0),
    }));
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.table, Key: { pk: PK, sk: key } }));
  }

  async bump(key: string, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: PK, sk: key },
        UpdateExpression: 'ADD attempts :one SET last_attempt_at = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1, ':at': at },
      }),
    );
  }
}
