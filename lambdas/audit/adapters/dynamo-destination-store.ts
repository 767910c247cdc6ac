import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { countAll, queryAll, writeIf } from '../../shared/dynamo.js';
import type { Destination, DestinationStore } from '../core/ports.js';
import { auditKeys as k, heightSk, stripKeys } from './audit-table.js';

const EXTERNAL_ID_SK = '#EXTERNAL_ID';
const queueSk = (height: number, destinationId: string) => `${heightSk(height)}#${destinationId}`;

/** The DestinationStore port on the audit table: customer destinations and the queue of copies to replay. */
export class DynamoDestinationStore implements DestinationStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async add(d: Destination): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { pk: k.destinations(d.tenant_id), sk: d.destination_id, ...d } }),
    );
  }

  async externalId(tenantId: string, candidate: string): Promise<string> {
    const key = { pk: k.destinations(tenantId), sk: EXTERNAL_ID_SK };
    const stored = await writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, external_id: candidate },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (stored) return candidate;
    const r = await this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    return String(r.Item!.external_id);
  }

  async setStatus(
    tenantId: string,
    destinationId: string,
    change: { status: 'pending_verification' | 'verified'; verified_at?: string; last_error?: string },
  ): Promise<void> {
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = { ':s': change.status };
    const sets = ['#s = :s'];
    if (change.verified_at) {
      sets.push('verified_at = :v');
      values[':v'] = change.verified_at;
    }
    if (change.last_error) {
      sets.push('last_error = :e');
      values[':e'] = change.last_error;
    }
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: k.destinations(tenantId), sk: destinationId },
        UpdateExpression: `SET ${sets.join(', ')}${change.last_error ? '' : ' REMOVE last_error'}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async list(tenantId: string): Promise<Destination[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': k.destinations(tenantId) },
    });
    return items.filter((i) => i.sk !== EXTERNAL_ID_SK).map((i) => stripKeys<Destination>(i));
  }

  async enqueue(tenantId: string, destinationId: string, height: number, reason: string, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: k.destinationQueue(tenantId),
          sk: queueSk(height, destinationId),
          destination_id: destinationId,
          height,
          attempts: 1,
          last_error: reason,
          queued_at: at,
        },
      }),
    );
  }

  async queued(
    tenantId: string,
    limit: number,
  ): Promise<{ destination_id: string; height: number; attempts: number }[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': k.destinationQueue(tenantId) },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map((i) => ({
      destination_id: i.destination_id as string,
      height: i.height as number,
      attempts: i.attempts as number,
    }));
  }

  async dequeue(tenantId: string, destinationId: string, height: number): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: k.destinationQueue(tenantId), sk: queueSk(height, destinationId) },
      }),
    );
  }

  async bumpAttempt(tenantId: string, destinationId: string, height: number, reason: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: k.destinationQueue(tenantId), sk: queueSk(height, destinationId) },
        UpdateExpression: 'ADD attempts :one SET last_error = :r',
        ExpressionAttributeValues: { ':one': 1, ':r': reason },
      }),
    );
  }

  queueDepth(tenantId: string): Promise<number> {
    return countAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': k.destinationQueue(tenantId) },
    });
  }
}
