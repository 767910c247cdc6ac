import { createHash } from 'node:crypto';
import {
  DeleteCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from './aws.js';
import { queryPages } from './dynamo.js';
import type { ArxEventDetail, DetailType, EventPublisher, OutboxEntry, StagedEventSink } from './events.js';
import { logger } from './observability.js';

export type { OutboxEntry } from './events.js';

/**
 * Transactional outbox: a state change and the event announcing it are written in one DynamoDB
 * transaction, so an event is never lost when PutEvents fails after the write. The writer
 * publishes immediately and deletes the outbox item; the scheduled relay publishes leftovers.
 * Consumers de-duplicate on `detail.event_id`, so publishing twice is harmless.
 *
 * Keys (control table): each tenant's outbox is its own partition, `T#<tenant>#OUTBOX` / `<event_id>`
 * (writing the same event twice overwrites one item). The relay finds due items through the sparse
 * gsi2 queue `OUTBOX#DUE#<shard>` / `<created_at>#<seq>#<tenant>#<event_id>`, one of {@link OUTBOX_SHARDS}
 * shards chosen by the tenant, so it reads them oldest first without scanning and keeps each
 * tenant's events in the order they were committed.
 */
export const OUTBOX_SHARDS = 8;
/** Partition used before outboxes were per tenant; the relay still drains it. */
export const LEGACY_OUTBOX_PK = 'OUTBOX';

export const outboxPk = (tenantId: string): string => `T#${tenantId}#OUTBOX`;
export const outboxKey = (tenantId: string, eventId: string): { pk: string; sk: string } => ({
  pk: outboxPk(tenantId),
  sk: eventId,
});
export function outboxShard(tenantId: string): string {
  return `OUTBOX#DUE#${createHash('sha256').update(tenantId).digest()[0]! % OUTBOX_SHARDS}`;
}

/** Orders this process's events committed within one millisecond (or under a clock that stands still). */
let sequence = 0;

/** The outbox item for `e`, to put in the same transaction as the state change it announces. */
export function outboxItem(e: OutboxEntry, createdAt: string): Record<string, unknown> {
  const t = e.detail.tenant_id;
  sequence = (sequence + 1) % 1e9;
  return {
    ...outboxKey(t, e.detail.event_id),
    gsi2pk: outboxShard(t),
    gsi2sk: `${createdAt}#${String(sequence).padStart(9, '0')}#${t}#${e.detail.event_id}`,
    tenant_id: t,
    detail_type: e.detailType,
    detail: e.detail,
    created_at: createdAt,
  };
}

type Item = Record<string, unknown>;

/**
 * One update of a control-table item together with the outbox items of the events it announces:
 * a plain UpdateCommand without events, else one transaction (a failed condition writes neither;
 * `isConditionalCheckFailed` recognises both shapes).
 */
export async function updateWithEvents(
  client: DynamoDBDocumentClient,
  update: UpdateCommandInput & { TableName: string },
  events: readonly OutboxEntry[],
  at: string,
): Promise<void> {
  if (!events.length) {
    await client.send(new UpdateCommand(update));
    return;
  }
  const { ReturnValues: _r, ...u } = update;
  await client.send(
    new TransactWriteCommand({
      TransactItems: [
        { Update: u as never },
        ...events.map((e) => ({ Put: { TableName: update.TableName, Item: outboxItem(e, at) } })),
      ],
    }),
  );
}

export class Outbox implements StagedEventSink {
  constructor(
    private readonly controlTable: string,
    private readonly publisher: EventPublisher,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  /**
   * Publishes entries already committed to the outbox and deletes them; a failure leaves them for
   * the relay. Stops at the first failure so a tenant's events stay in order. Never throws.
   * @returns how many were published
   */
  async flush(entries: readonly OutboxEntry[]): Promise<number> {
    return this.publishItems(
      entries.map((e) => ({
        ...outboxKey(e.detail.tenant_id, e.detail.event_id),
        detail_type: e.detailType,
        detail: e.detail,
      })),
    );
  }

  /**
   * Commits entries on their own, for a state change that cannot join a DynamoDB transaction (an S3
   * pointer): stage, make the change, then `flush` — or `discard` when the change failed.
   */
  async stage(entries: readonly OutboxEntry[], at: string): Promise<void> {
    for (const e of entries)
      await this.client.send(new PutCommand({ TableName: this.controlTable, Item: outboxItem(e, at) }));
  }

  /** Removes staged entries whose state change did not happen. */
  async discard(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries)
      await this.client.send(
        new DeleteCommand({ TableName: this.controlTable, Key: outboxKey(e.detail.tenant_id, e.detail.event_id) }),
      );
  }

  /**
   * Publishes outbox items older than `minAgeMs`, oldest first; a tenant whose publish fails is
   * left for the next run (its later events wait behind it), other tenants go on.
   * @returns how many were actually published
   */
  async relay(now: Date, minAgeMs = 30_000): Promise<number> {
    const cutoff = new Date(now.getTime() - minAgeMs).toISOString();
    let published = 0;
    const blocked = new Set<string>();
    const take = async (items: Item[]): Promise<void> => {
      const byTenant = new Map<string, Item[]>();
      for (const it of items) {
        const t = String((it.detail as ArxEventDetail | undefined)?.tenant_id ?? it.tenant_id ?? '');
        if (blocked.has(t)) continue;
        byTenant.set(t, [...(byTenant.get(t) ?? []), it]);
      }
      for (const [t, list] of byTenant) {
        const n = await this.publishItems(list);
        published += n;
        if (n < list.length) blocked.add(t);
      }
    };
    for (let s = 0; s < OUTBOX_SHARDS; s++) {
      await this.pages(
        {
          IndexName: 'gsi2',
          KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :c',
          ExpressionAttributeValues: { ':p': `OUTBOX#DUE#${s}`, ':c': cutoff },
        },
        take,
      );
    }
    await this.pages(
      { KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': LEGACY_OUTBOX_PK } },
      (items) =>
        take(
          items
            .filter((it) => String(it.created_at) < cutoff)
            .sort((a, b) => String(a.created_at).localeCompare(String(b.created_at))),
        ),
    );
    return published;
  }

  private async pages(
    q: { IndexName?: string; KeyConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> },
    fn: (items: Item[]) => Promise<void>,
  ): Promise<void> {
    for await (const items of queryPages(this.client, { TableName: this.controlTable, ...q, Limit: 100 }))
      await fn(items);
  }

  /** Publishes items in order, deleting each after it is published; stops at the first failure. */
  private async publishItems(items: readonly Item[]): Promise<number> {
    let n = 0;
    for (const it of items) {
      const detail = it.detail as ArxEventDetail;
      try {
        await this.publisher.publish(it.detail_type as DetailType, detail);
      } catch (err) {
        logger.warn('event left in outbox for the relay', {
          event_id: detail.event_id,
          error_name: (err as Error).name,
        });
        return n;
      }
      n++;
      try {
        await this.client.send(new DeleteCommand({ TableName: this.controlTable, Key: { pk: it.pk, sk: it.sk } }));
      } catch (err) {
        // published: the relay will publish it again and consumers de-duplicate on event_id
        logger.warn('published event not removed from the outbox', {
          event_id: detail.event_id,
          error_name: (err as Error).name,
        });
      }
    }
    return n;
  }
}
