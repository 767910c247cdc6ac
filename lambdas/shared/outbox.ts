import { DeleteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from './aws.js';
import type { ArxEventDetail, DetailType, EventPublisher } from './events.js';
import { logger } from './observability.js';

/**
 * Transactional outbox: a state change and the event announcing it are written in one DynamoDB
 * transaction, so an event is never lost when PutEvents fails after the write. The writer
 * publishes immediately and deletes the outbox item; the scheduled relay publishes leftovers.
 * Consumers de-duplicate on `detail.event_id`, so publishing twice is harmless.
 */
export const OUTBOX_PK = 'OUTBOX';

export interface OutboxEntry {
  readonly detailType: DetailType;
  readonly detail: ArxEventDetail;
}

export function outboxItem(e: OutboxEntry, createdAt: string): Record<string, unknown> {
  return { pk: OUTBOX_PK, sk: e.detail.event_id, detail_type: e.detailType, detail: e.detail, created_at: createdAt };
}

export class Outbox {
  constructor(
    private readonly controlTable: string,
    private readonly publisher: EventPublisher,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  /** Publishes entries already committed to the outbox; a failure leaves them for the relay. */
  async flush(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) {
      try {
        await this.publisher.publish(e.detailType, e.detail);
        await this.client.send(new DeleteCommand({ TableName: this.controlTable, Key: { pk: OUTBOX_PK, sk: e.detail.event_id } }));
      } catch (err) {
        logger.warn('event left in outbox for the relay', { event_id: e.detail.event_id, error_name: (err as Error).name });
      }
    }
  }

  /** Publishes outbox items older than `minAgeMs`; returns how many were published. */
  async relay(now: Date, minAgeMs = 30_000): Promise<number> {
    let published = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.controlTable,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': OUTBOX_PK },
          ExclusiveStartKey: startKey,
          Limit: 100,
        }),
      );
      const due = (r.Items ?? []).filter((it) => now.getTime() - Date.parse(String(it.created_at)) >= minAgeMs);
      await this.flush(due.map((it) => ({ detailType: it.detail_type as DetailType, detail: it.detail as ArxEventDetail })));
      published += due.length;
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return published;
  }
}
