import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { encodeTime } from 'ulid';
import { documentClient, isConditionalCheckFailed } from '../../shared/aws.js';
import { ValidationError } from '../../shared/errors.js';
import { leafString, type AuditEvent } from '../core/events.js';
import type { PackageRecord, PackageStore } from '../core/packages.js';
import type {
  AuditStore,
  BlockSummary,
  ChainRecord,
  Destination,
  DestinationStore,
  EncryptedPayload,
  Page,
  PendingEvent,
  StoredEvent,
} from '../core/ports.js';

/**
 * The audit table (ARX_AUDIT_TABLE, pk/sk, GSIs gsi1 and gsi2):
 *   event          pk T#<t>#EV            sk <event_id>   gsi1 T#<t>#PENDING (until sealed), gsi2 T#<t>#AGENT#<agent>
 *   evidence tag   pk T#<t>#CTRL#<fw:id>  sk <event_id>   (written in the event's transaction)
 *   chain head     pk T#<t>#CHAIN         sk HEAD | LEASE
 *   block summary  pk T#<t>#BLOCK         sk <height, 12 digits>
 *   destinations   pk T#<t>#DEST          sk <destination_id>;  queue pk T#<t>#DESTQ sk <height>#<destination_id>
 *   tenant index   pk AUDIT#TENANTS       sk <tenant>
 *   packages       pk T#<t>#PKG           sk <package_id>
 */
const evPk = (t: string) => `T#${t}#EV`;
const pendingPk = (t: string) => `T#${t}#PENDING`;
const agentPk = (t: string, a: string) => `T#${t}#AGENT#${a}`;
const ctrlPk = (t: string, tag: string) => `T#${t}#CTRL#${tag}`;
const chainPk = (t: string) => `T#${t}#CHAIN`;
const blockPk = (t: string) => `T#${t}#BLOCK`;
const destPk = (t: string) => `T#${t}#DEST`;
const destQPk = (t: string) => `T#${t}#DESTQ`;
const TENANTS_PK = 'AUDIT#TENANTS';
const pad = (h: number) => String(h).padStart(12, '0');

export function encodeToken(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}
export function decodeToken(token: string | undefined, pk: string): Record<string, unknown> | undefined {
  if (!token) return undefined;
  try {
    const k = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof k !== 'object' || k === null) throw new Error('bad');
    // A token may only continue a query over the caller's own partition.
    if (k.pk !== pk && k.gsi1pk !== pk && k.gsi2pk !== pk) throw new Error('foreign');
    return k;
  } catch {
    throw new ValidationError('invalid next_token');
  }
}

export class DynamoAuditStore implements AuditStore, DestinationStore, PackageStore {
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
      await this.client.send(new PutCommand({ TableName: this.table, Item: { pk: TENANTS_PK, sk: t } }));
      this.knownTenants.add(t);
    }
    const item: Record<string, unknown> = {
      pk: evPk(t),
      sk: event.event_id,
      gsi1pk: pendingPk(t),
      gsi1sk: event.event_id,
      event,
      event_type: event.event_type,
      redacted_payload: redactedPayload,
      payload_enc: enc,
      // Canonical leaf kept from write time so the sealer only hashes (the verifier recomputes it).
      leaf: leafString(event),
    };
    if (event.agent_id) {
      item.gsi2pk = agentPk(t, event.agent_id);
      item.gsi2sk = event.event_id;
    }
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            ...event.evidence_tags.map((tag) => ({
              Put: { TableName: this.table, Item: { pk: ctrlPk(t, tag), sk: event.event_id, event } },
            })),
            ...(dedupeKey
              ? [
                  {
                    Put: {
                      TableName: this.table,
                      Item: { pk: `T#${t}#DEDUPE`, sk: dedupeKey, event_id: event.event_id },
                      ConditionExpression: 'attribute_not_exists(pk)',
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return true;
    } catch (e) {
      if (dedupeKey && isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

  async getEvent(tenantId: string, eventId: string): Promise<StoredEvent | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: evPk(tenantId), sk: eventId }, ConsistentRead: true }),
    );
    return r.Item ? toStored(r.Item) : null;
  }

  async listEvents(
    tenantId: string,
    q: { agentId?: string; type?: string; limit: number; nextToken?: string },
  ): Promise<Page<AuditEvent>> {
    const input: QueryCommandInput = q.agentId
      ? {
          TableName: this.table,
          IndexName: 'gsi2',
          KeyConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': agentPk(tenantId, q.agentId) },
          ExclusiveStartKey: decodeToken(q.nextToken, agentPk(tenantId, q.agentId)),
        }
      : {
          TableName: this.table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': evPk(tenantId) },
          ExclusiveStartKey: decodeToken(q.nextToken, evPk(tenantId)),
        };
    if (q.type) {
      input.FilterExpression = 'event_type = :ty';
      input.ExpressionAttributeValues![':ty'] = q.type;
    }
    return this.page(input, q.limit);
  }

  async controlEvidence(tenantId: string, tag: string, limit: number, nextToken?: string): Promise<Page<AuditEvent>> {
    const pk = ctrlPk(tenantId, tag);
    return this.page(
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': pk },
        ExclusiveStartKey: decodeToken(nextToken, pk),
      },
      limit,
    );
  }

  /** Newest first; keeps querying through filtered-out pages until `limit` items or the end. */
  private async page(input: QueryCommandInput, limit: number): Promise<Page<AuditEvent>> {
    const items: AuditEvent[] = [];
    let start = input.ExclusiveStartKey;
    let last: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({ ...input, ScanIndexForward: false, ExclusiveStartKey: start, Limit: limit - items.length }),
      );
      for (const it of r.Items ?? []) items.push(it.event as AuditEvent);
      last = r.LastEvaluatedKey;
      start = last;
    } while (last && items.length < limit);
    const next = encodeToken(last);
    return next ? { items, next_token: next } : { items };
  }

  async eventsBetween(tenantId: string, from: string, to: string, max: number): Promise<StoredEvent[]> {
    const lo = `aev_${encodeTime(Date.parse(from), 10)}`;
    const hi = `aev_${encodeTime(Date.parse(to), 10)}~`;
    const out: StoredEvent[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':p': evPk(tenantId), ':lo': lo, ':hi': hi },
          ExclusiveStartKey: start,
        }),
      );
      for (const it of r.Items ?? []) out.push(toStored(it));
      start = r.LastEvaluatedKey;
    } while (start && out.length < max);
    return out.slice(0, max);
  }

  async pendingEvents(tenantId: string, limit: number): Promise<PendingEvent[]> {
    const out: PendingEvent[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': pendingPk(tenantId) },
          ExclusiveStartKey: start,
          Limit: Math.min(1000, limit - out.length),
        }),
      );
      for (const it of r.Items ?? [])
        out.push({ event: it.event as AuditEvent, leaf: typeof it.leaf === 'string' ? it.leaf : null });
      start = r.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }

  async countPending(tenantId: string): Promise<number> {
    let n = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': pendingPk(tenantId) },
          Select: 'COUNT',
          ExclusiveStartKey: start,
        }),
      );
      n += r.Count ?? 0;
      start = r.LastEvaluatedKey;
    } while (start);
    return n;
  }

  async tenants(): Promise<string[]> {
    const out: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': TENANTS_PK },
          ExclusiveStartKey: start,
        }),
      );
      for (const it of r.Items ?? []) out.push(it.sk as string);
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async getChain(tenantId: string): Promise<ChainRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: chainPk(tenantId), sk: 'HEAD' }, ConsistentRead: true }),
    );
    if (!r.Item) return null;
    const { pk: _pk, sk: _sk, ...rest } = r.Item;
    return rest as ChainRecord;
  }

  async commitBlock(prevHeight: number, next: ChainRecord, summary: BlockSummary): Promise<boolean> {
    const t = next.tenant_id;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk: chainPk(t), sk: 'HEAD', ...next },
                ConditionExpression: prevHeight === 0 ? 'attribute_not_exists(pk)' : 'height = :h',
                ...(prevHeight === 0 ? {} : { ExpressionAttributeValues: { ':h': prevHeight } }),
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { pk: blockPk(t), sk: pad(summary.height), ...summary },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

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
            Key: { pk: evPk(tenantId), sk: e.event_id },
            UpdateExpression: 'SET block_height = :h, leaf_index = :i REMOVE gsi1pk, gsi1sk',
            ExpressionAttributeValues: { ':h': height, ':i': e.leaf_index },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  async finishMarking(tenantId: string, height: number): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: chainPk(tenantId), sk: 'HEAD' },
          UpdateExpression: 'SET marking_height = :null',
          ConditionExpression: 'marking_height = :h',
          ExpressionAttributeValues: { ':null': null, ':h': height },
        }),
      )
      .catch((e: unknown) => {
        if (!isConditionalCheckFailed(e)) throw e;
      });
  }

  async recordAnchor(tenantId: string, height: number, anchoredAt: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const chain = await this.getChain(tenantId);
      if (!chain) return;
      const unanchored = chain.unanchored.filter((h) => h !== height);
      const oldest = unanchored.length === 0 ? null : chain.oldest_unanchored_at;
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: chainPk(tenantId), sk: 'HEAD' },
                  UpdateExpression: 'SET unanchored = :u, oldest_unanchored_at = :o, last_anchored_at = :a',
                  ConditionExpression: 'height = :h',
                  ExpressionAttributeValues: { ':u': unanchored, ':o': oldest, ':a': anchoredAt, ':h': chain.height },
                },
              },
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: blockPk(tenantId), sk: pad(height) },
                  UpdateExpression: 'SET anchored = :t, anchored_at = :a',
                  ExpressionAttributeValues: { ':t': true, ':a': anchoredAt },
                },
              },
            ],
          }),
        );
        return;
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw e;
      }
    }
  }

  async getBlockSummary(tenantId: string, height: number): Promise<BlockSummary | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: blockPk(tenantId), sk: pad(height) } }),
    );
    return r.Item ? stripKeys<BlockSummary>(r.Item) : null;
  }

  async listBlocks(tenantId: string, fromHeight: number, limit: number): Promise<BlockSummary[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND sk >= :s',
        ExpressionAttributeValues: { ':p': blockPk(tenantId), ':s': pad(fromHeight) },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map((i) => stripKeys<BlockSummary>(i));
  }

  async tryLease(tenantId: string, owner: string, untilIso: string, nowIso: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: chainPk(tenantId), sk: 'LEASE', owner, until: untilIso },
          ConditionExpression: 'attribute_not_exists(pk) OR #u < :now OR #o = :me',
          ExpressionAttributeNames: { '#u': 'until', '#o': 'owner' },
          ExpressionAttributeValues: { ':now': nowIso, ':me': owner },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

  async releaseLease(tenantId: string, owner: string): Promise<void> {
    await this.client
      .send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: chainPk(tenantId), sk: 'LEASE' },
          ConditionExpression: '#o = :me',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':me': owner },
        }),
      )
      .catch((e: unknown) => {
        if (!isConditionalCheckFailed(e)) throw e;
      });
  }

  // ------------------------------------------------------------ destinations
  async add(d: Destination): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { pk: destPk(d.tenant_id), sk: d.destination_id, ...d } }),
    );
  }
  async externalId(tenantId: string, candidate: string): Promise<string> {
    const key = { pk: destPk(tenantId), sk: '#EXTERNAL_ID' };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, external_id: candidate },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return candidate;
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
    }
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
        Key: { pk: destPk(tenantId), sk: destinationId },
        UpdateExpression: `SET ${sets.join(', ')}${change.last_error ? '' : ' REMOVE last_error'}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async list(tenantId: string): Promise<Destination[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': destPk(tenantId) },
      }),
    );
    return (r.Items ?? []).filter((i) => i.sk !== '#EXTERNAL_ID').map((i) => stripKeys<Destination>(i));
  }
  async enqueue(tenantId: string, destinationId: string, height: number, reason: string, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: destQPk(tenantId),
          sk: `${pad(height)}#${destinationId}`,
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
        ExpressionAttributeValues: { ':p': destQPk(tenantId) },
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
        Key: { pk: destQPk(tenantId), sk: `${pad(height)}#${destinationId}` },
      }),
    );
  }
  async bumpAttempt(tenantId: string, destinationId: string, height: number, reason: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: destQPk(tenantId), sk: `${pad(height)}#${destinationId}` },
        UpdateExpression: 'ADD attempts :one SET last_error = :r',
        ExpressionAttributeValues: { ':one': 1, ':r': reason },
      }),
    );
  }
  async putPackage(r: PackageRecord): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { pk: `T#${r.tenant_id}#PKG`, sk: r.package_id, ...r } }),
    );
  }
  async getPackage(tenantId: string, id: string): Promise<PackageRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: `T#${tenantId}#PKG`, sk: id } }),
    );
    return r.Item ? stripKeys<PackageRecord>(r.Item) : null;
  }

  async queueDepth(tenantId: string): Promise<number> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': destQPk(tenantId) },
        Select: 'COUNT',
      }),
    );
    return r.Count ?? 0;
  }
}

function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

function toStored(it: Record<string, unknown>): StoredEvent {
  return {
    event: it.event as AuditEvent,
    block_height: (it.block_height as number | undefined) ?? null,
    leaf_index: (it.leaf_index as number | undefined) ?? null,
  };
}
