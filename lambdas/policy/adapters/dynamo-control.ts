import {
  BatchWriteCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { OutboxEntry } from '../../shared/events.js';
import { outboxItem } from '../../shared/outbox.js';
import { documentClient } from '../../shared/aws.js';
import type { DynamoRevocationList } from '../../shared/revocation.js';
import type { Clock } from '../../shared/clock.js';
import type { EnforcementEvent, EnforcementLog, RevokedIds, VersionCounter } from '../core/service.js';

/** Days an EnforcementEvent stays in the control table (the audit chain keeps the durable record). */
export const ENFORCEMENT_RETENTION_DAYS = 90;

/** Per-tenant bundle version counter in the control table: `T#<tenant>#POLICY#VERSION`. */
export class DynamoVersionCounter implements VersionCounter {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}
  async next(tenantId: string): Promise<number> {
    const r = await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#POLICY#VERSION`, sk: 'COUNTER' },
        UpdateExpression: 'ADD #v :one',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(r.Attributes?.version);
  }
}

/**
 * EnforcementEvents in the control table: pk `T#<tenant>#POLICY#ENF#<yyyy-mm-dd>`, sk
 * `<occurred_at>#<event_id>`; gsi1 by agent (`T#<tenant>#POLICY#ENF#AGENT#<agent>`).
 * Writes are idempotent on event_id (same keys).
 */
export class DynamoEnforcementLog implements EnforcementLog {
  constructor(
    private readonly table: string,
    private readonly clock: Clock,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  static keys(e: Pick<EnforcementEvent, 'tenant_id' | 'occurred_at' | 'event_id' | 'agent_id'>) {
    return {
      pk: `T#${e.tenant_id}#POLICY#ENF#${e.occurred_at.slice(0, 10)}`,
      sk: `${e.occurred_at}#${e.event_id}`,
      gsi1pk: `T#${e.tenant_id}#POLICY#ENF#AGENT#${e.agent_id}`,
      gsi1sk: `${e.occurred_at}#${e.event_id}`,
    };
  }

  private item(e: EnforcementEvent, ttl: number): Record<string, unknown> {
    return { ...DynamoEnforcementLog.keys(e), ...e, expires_at_epoch: ttl, type: 'EnforcementEvent' };
  }

  private ttl(): number {
    return Math.floor(this.clock.now().getTime() / 1000) + ENFORCEMENT_RETENTION_DAYS * 86400;
  }

  /** The record and its event's outbox entry (the outbox lives in this table) in one transaction. */
  putWithEvent(event: EnforcementEvent, entry: OutboxEntry): Promise<void> {
    return this.putWithEvents([{ event, entry }]);
  }

  /** Records with their outbox entries, 50 pairs (100 items) per transaction. */
  async putWithEvents(pairs: readonly { event: EnforcementEvent; entry: OutboxEntry }[]): Promise<void> {
    const ttl = this.ttl();
    for (let i = 0; i < pairs.length; i += 50) {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: pairs
            .slice(i, i + 50)
            .flatMap(({ event, entry }) => [
              { Put: { TableName: this.table, Item: this.item(event, ttl) } },
              { Put: { TableName: this.table, Item: outboxItem(entry, event.occurred_at) } },
            ]),
        }),
      );
    }
  }

  async put(events: readonly EnforcementEvent[]): Promise<void> {
    const ttl = this.ttl();
    for (let i = 0; i < events.length; i += 25) {
      let items: Record<string, unknown>[] | undefined = events.slice(i, i + 25).map((e) => ({
        PutRequest: { Item: this.item(e, ttl) },
      }));
      for (let attempt = 0; items?.length && attempt < 5; attempt++) {
        const r = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.table]: items } }));
        items = r.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
        if (items?.length) await new Promise((res) => setTimeout(res, 50 * 2 ** attempt));
      }
      if (items?.length) throw new Error(`${items.length} enforcement events were not written`);
    }
  }
}

/** Agent ids on the tenant's revocation list (for the bundle's Bloom filter). */
export class RevocationTableIds implements RevokedIds {
  constructor(
    private readonly drl: Pick<DynamoRevocationList, 'deltasSince'>,
    private readonly clock: Clock,
  ) {}
  async list(tenantId: string): Promise<string[]> {
    const ids = new Set<string>();
    let cursor: string | null = null;
    const now = this.clock.now().getTime();
    for (;;) {
      const r = await this.drl.deltasSince(tenantId, cursor);
      for (const e of r.entries) if (Date.parse(e.ttl_until) > now) ids.add(e.agent_id);
      if (r.entries.length === 0 || r.cursor === cursor) break;
      cursor = r.cursor;
    }
    return [...ids];
  }
}
