import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { encodeTime } from 'ulid';
import { documentClient } from '../../shared/aws.js';
import { countAll, queryAll, queryPage, writeIf, type Item, type PageKeys, type Query } from '../../shared/dynamo.js';
import { leafString, type AuditEvent } from '../core/events.js';
import type { EncryptedPayload, EventStore, Page, PendingEvent, StoredEvent } from '../core/ports.js';
import { auditKeys as k } from './audit-table.js';

/**
 * The EventStore port on the audit table: appends events (with their evidence tags and dedupe
 * marker, in one transaction), reads them back (by id, by agent, by control, by time), and keeps
 * the pending index the sealer drains.
 */
export class DynamoEventStore implements EventStore {
  private readonly knownTenants = new Set<string>();
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async putEvent(
    event: AuditEvent,
    redactedPayload: unknown,
    enc: EncryptedPayload,
    dedupeKey?: string,
  ): Promise<boolean> {
    const t = event.tenant_id;
    if (!this.knownTenants.has(t)) {
      await this.client.send(new PutCommand({ TableName: this.table, Item: { pk: k.TENANTS, sk: t } }));
      this.knownTenants.add(t);
    }
    const item: Item = {
      pk: k.events(t),
      sk: event.event_id,
      gsi1pk: k.pending(t),
      gsi1sk: event.event_id,
      event,
      event_type: event.event_type,
      redacted_payload: redactedPayload,
      payload_enc: enc,
      // Canonical leaf kept from write time so the sealer only hashes (the verifier recomputes it).
      leaf: leafString(event),
    };
    if (event.agent_id) {
      item.gsi2pk = k.agent(t, event.agent_id);
      item.gsi2sk = event.event_id;
    }
    const written = await writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            ...event.evidence_tags.map((tag) => ({
              Put: { TableName: this.table, Item: { pk: k.control(t, tag), sk: event.event_id, event } },
            })),
            ...(dedupeKey
              ? [
                  {
                    Put: {
                      TableName: this.table,
                      Item: { pk: k.dedupe(t), sk: dedupeKey, event_id: event.event_id },
                      ConditionExpression: 'attribute_not_exists(pk)',
                    },
                  },
                ]
              : []),
          ],
        }),
      ),
    );
    // Without a dedupe key nothing may already exist: an event id stored twice is a fault.
    if (!written && !dedupeKey) throw new Error(`audit event ${event.event_id} is already stored`);
    return written;
  }

  async getEvent(tenantId: string, eventId: string): Promise<StoredEvent | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: k.events(tenantId), sk: eventId }, ConsistentRead: true }),
    );
    return r.Item ? toStored(r.Item) : null;
  }

  listEvents(
    tenantId: string,
    q: { agentId?: string; type?: string; limit: number; nextToken?: string },
  ): Promise<Page<AuditEvent>> {
    const pk = k.events(tenantId);
    const [input, keys]: [Query, PageKeys] = q.agentId
      ? [
          {
            TableName: this.table,
            IndexName: 'gsi2',
            KeyConditionExpression: 'gsi2pk = :p',
            ExpressionAttributeValues: { ':p': k.agent(tenantId, q.agentId) },
          },
          { attributes: ['pk', 'sk', 'gsi2pk', 'gsi2sk'], equal: { pk, gsi2pk: k.agent(tenantId, q.agentId) } },
        ]
      : [
          { TableName: this.table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': pk } },
          { attributes: ['pk', 'sk'], equal: { pk } },
        ];
    if (q.type) {
      input.FilterExpression = 'event_type = :ty';
      input.ExpressionAttributeValues![':ty'] = q.type;
    }
    return this.page(input, keys, q.limit, q.nextToken);
  }

  controlEvidence(tenantId: string, tag: string, limit: number, nextToken?: string): Promise<Page<AuditEvent>> {
    const pk = k.control(tenantId, tag);
    return this.page(
      { TableName: this.table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': pk } },
      { attributes: ['pk', 'sk'], equal: { pk } },
      limit,
      nextToken,
    );
  }

  /** Newest first, `limit` events after the token (bound to this listing's partition). */
  private async page(input: Query, keys: PageKeys, limit: number, token?: string): Promise<Page<AuditEvent>> {
    const p = await queryPage(this.client, { ...input, ScanIndexForward: false }, { limit, token, keys });
    return { ...p, items: p.items.map((it) => it.event as AuditEvent) };
  }

  async eventsBetween(tenantId: string, from: string, to: string, max: number): Promise<StoredEvent[]> {
    const lo = `aev_${encodeTime(Date.parse(from), 10)}`;
    const hi = `aev_${encodeTime(Date.parse(to), 10)}~`;
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: { ':p': k.events(tenantId), ':lo': lo, ':hi': hi },
      },
      max,
    );
    return items.map(toStored);
  }

  async pendingEvents(tenantId: string, limit: number): Promise<PendingEvent[]> {
    const items = await queryAll(this.client, { ...this.pendingQuery(tenantId), Limit: 1000 }, limit);
    return items.map((it) => ({ event: it.event as AuditEvent, leaf: typeof it.leaf === 'string' ? it.leaf : null }));
  }

  countPending(tenantId: string): Promise<number> {
    return countAll(this.client, this.pendingQuery(tenantId));
  }

  private pendingQuery(tenantId: string): Query {
    return {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': k.pending(tenantId) },
    };
  }

  /** Takes sealed events off the pending index and records where they sit in the block. */
  async markSealed(
    tenantId: string,
    height: number,
    events: readonly { event_id: string; leaf_index: number }[],
  ): Promise<void> {
    // Bounded parallelism: 10k updates per block at ~16 in flight.
    const queue = [...events];
    const worker = async (): Promise<void> => {
      for (let e = queue.shift(); e; e = queue.shift()) {
        await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: k.events(tenantId), sk: e.event_id },
            UpdateExpression: 'SET block_height = :h, leaf_index = :i REMOVE gsi1pk, gsi1sk',
            ExpressionAttributeValues: { ':h': height, ':i': e.leaf_index },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  async tenants(): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': k.TENANTS },
    });
    return items.map((it) => it.sk as string);
  }
}

function toStored(it: Item): StoredEvent {
  return {
    event: it.event as AuditEvent,
    block_height: (it.block_height as number | undefined) ?? null,
    leaf_index: (it.leaf_index as number | undefined) ?? null,
  };
}
