import { createHash } from 'node:crypto';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll, queryPage, writeIf, type Item } from '../../shared/dynamo.js';
import type { Delivery, DeliveryStatus, Subscription } from '../core/model.js';
import type { DeliveryRef, Settlement, StreamingStore } from '../core/ports.js';

/**
 * Subscriptions and deliveries in the control table.
 * - subscription: `T#<tenant>#SUB` / `<subscription_id>`
 * - delivery: `T#<tenant>#SUB#<subscription_id>#DLV` / `<delivery_id>` (one per subscription, event
 *   and type: the put is conditional); gsi1 `(same pk)` / `<created_at>#<delivery_id>` lists them
 *   newest first; the sparse gsi2 queue `STREAM#DUE#<shard>` / `<next_attempt_at>#<tenant>#…` holds
 *   the due ones (the retry worker reads it oldest first, without scanning), and settled ones leave it.
 * Deliveries expire (TTL `expires_at_epoch`) 30 days after their last change.
 */
export const DUE_SHARDS = 4;
const RETENTION_S = 30 * 86_400;

const subPk = (t: string) => `T#${t}#SUB`;
const dlvPk = (t: string, s: string) => `T#${t}#SUB#${s}#DLV`;
const shardOf = (deliveryId: string) =>
  `STREAM#DUE#${createHash('sha256').update(deliveryId).digest()[0]! % DUE_SHARDS}`;
const dueSk = (at: string, d: DeliveryRef) => `${at}#${d.tenant_id}#${d.subscription_id}#${d.delivery_id}`;
const expiry = (iso: string) => Math.floor(Date.parse(iso) / 1000) + RETENTION_S;

const KEYS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'expires_at_epoch'];
function strip<T>(it: Item): T {
  const out: Item = { ...it };
  for (const k of KEYS) delete out[k];
  return out as T;
}

/**
 * How long a tenant found without subscriptions is answered without a read on the delivery path
 * (every event of every tenant passes through it). Only the empty answer is kept: a subscription
 * created here applies at once, one created through another function instance within this window,
 * and a tenant that has subscriptions is read on every event.
 */
export const NO_SUBSCRIPTIONS_CACHE_MS = 5_000;
const emptySince = new Map<string, number>();
let subscriptionWrites = 0;

export class DynamoStreamingStore implements StreamingStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async putSubscription(s: Subscription): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { ...s, pk: subPk(s.tenant_id), sk: s.subscription_id } }),
    );
    subscriptionWrites++;
    emptySince.delete(`${this.table}/${s.tenant_id}`);
  }

  async getSubscription(tenantId: string, id: string): Promise<Subscription | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: subPk(tenantId), sk: id }, ConsistentRead: true }),
    );
    return r.Item ? strip<Subscription>(r.Item) : null;
  }

  async listSubscriptions(tenantId: string): Promise<Subscription[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': subPk(tenantId) },
    });
    return items.map((i) => strip<Subscription>(i));
  }

  async subscriptionsForDelivery(tenantId: string): Promise<Subscription[]> {
    const key = `${this.table}/${tenantId}`;
    const empty = emptySince.get(key);
    if (empty !== undefined && Date.now() - empty < NO_SUBSCRIPTIONS_CACHE_MS) return [];
    const generation = subscriptionWrites;
    const subs = await this.listSubscriptions(tenantId);
    // Kept only when no subscription was written here while the read was in flight.
    if (subs.length || generation !== subscriptionWrites) emptySince.delete(key);
    else {
      if (emptySince.size >= 1_000) emptySince.delete(emptySince.keys().next().value!);
      emptySince.set(key, Date.now());
    }
    return subs;
  }

  async deleteSubscription(tenantId: string, id: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: subPk(tenantId), sk: id },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    );
  }

  async disableSubscription(tenantId: string, id: string, reason: string, at: string): Promise<void> {
    await writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: subPk(tenantId), sk: id },
          UpdateExpression: 'SET #s = :d, disabled_reason = :r, updated_at = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':d': 'disabled', ':r': reason, ':at': at },
        }),
      ),
    );
  }

  async createDelivery(d: Delivery): Promise<boolean> {
    const pk = dlvPk(d.tenant_id, d.subscription_id);
    return writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...d,
            pk,
            sk: d.delivery_id,
            gsi1pk: pk,
            gsi1sk: `${d.created_at}#${d.delivery_id}`,
            gsi2pk: shardOf(d.delivery_id),
            gsi2sk: dueSk(d.next_attempt_at ?? d.created_at, d),
            expires_at_epoch: expiry(d.created_at),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async getDelivery(ref: DeliveryRef): Promise<Delivery | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: dlvPk(ref.tenant_id, ref.subscription_id), sk: ref.delivery_id },
        ConsistentRead: true,
      }),
    );
    return r.Item ? strip<Delivery>(r.Item) : null;
  }

  async claim(d: Delivery, now: string, leaseUntil: string): Promise<Delivery | null> {
    try {
      const r = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: dlvPk(d.tenant_id, d.subscription_id), sk: d.delivery_id },
          UpdateExpression: 'SET attempts = :n, next_attempt_at = :l, gsi2sk = :q, updated_at = :now',
          ConditionExpression: 'attempts = :a AND #s IN (:p, :r) AND next_attempt_at <= :now',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':n': d.attempts + 1,
            ':a': d.attempts,
            ':l': leaseUntil,
            ':q': dueSk(leaseUntil, d),
            ':now': now,
            ':p': 'pending',
            ':r': 'retrying',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<Delivery>(r.Attributes!);
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return null;
      throw e;
    }
  }

  async settle(claimed: Delivery, s: Settlement): Promise<void> {
    const due = s.next_attempt_at !== null;
    const done =
      s.status === 'delivered'
        ? ', delivered_at = :at'
        : s.status === 'dead_lettered'
          ? ', dead_lettered_at = :at'
          : '';
    await writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: dlvPk(claimed.tenant_id, claimed.subscription_id), sk: claimed.delivery_id },
          UpdateExpression: `SET #s = :s, last_status = :ls, last_error = :le, next_attempt_at = :na, updated_at = :at, expires_at_epoch = :x${done}${
            due ? ', gsi2sk = :q' : ''
          }${due ? '' : ' REMOVE gsi2pk, gsi2sk'}`,
          ConditionExpression: 'attempts = :a',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':s': s.status,
            ':ls': s.last_status,
            ':le': s.last_error,
            ':na': s.next_attempt_at,
            ':at': s.at,
            ':x': expiry(s.at),
            ':a': claimed.attempts,
            ...(due ? { ':q': dueSk(s.next_attempt_at!, claimed) } : {}),
          },
        }),
      ),
    );
  }

  async listDeliveries(
    tenantId: string,
    subscriptionId: string,
    o: { limit: number; token?: string | undefined; status?: DeliveryStatus | undefined },
  ): Promise<{ items: Delivery[]; next_token?: string }> {
    const pk = dlvPk(tenantId, subscriptionId);
    const page = await queryPage(
      this.client,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': pk },
        ScanIndexForward: false,
      },
      {
        limit: o.limit,
        token: o.token,
        keys: { attributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'], equal: { pk, gsi1pk: pk } },
        ...(o.status ? { keep: (it: Item) => it.status === o.status } : {}),
      },
    );
    return {
      items: page.items.map((i) => strip<Delivery>(i)),
      ...(page.next_token ? { next_token: page.next_token } : {}),
    };
  }

  async due(now: string, limit: number): Promise<DeliveryRef[]> {
    const per = await Promise.all(
      Array.from({ length: DUE_SHARDS }, (_, s) =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: 'gsi2',
            KeyConditionExpression: 'gsi2pk = :p AND gsi2sk <= :n',
            ExpressionAttributeValues: { ':p': `STREAM#DUE#${s}`, ':n': `${now}#~` },
            ProjectionExpression: 'tenant_id, subscription_id, delivery_id, gsi2sk',
            Limit: limit,
          }),
        ),
      ),
    );
    return per
      .flatMap((r) => r.Items ?? [])
      .sort((a, b) => String(a.gsi2sk).localeCompare(String(b.gsi2sk)))
      .slice(0, limit)
      .map((i) => ({
        tenant_id: String(i.tenant_id),
        subscription_id: String(i.subscription_id),
        delivery_id: String(i.delivery_id),
      }));
  }

  async requeue(deliveries: readonly Delivery[], now: string): Promise<void> {
    for (const d of deliveries) {
      await writeIf(
        this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: dlvPk(d.tenant_id, d.subscription_id), sk: d.delivery_id },
            UpdateExpression:
              'SET #s = :p, attempts = :z, next_attempt_at = :now, window_from = :now, updated_at = :now, gsi2pk = :g, gsi2sk = :q, expires_at_epoch = :x REMOVE dead_lettered_at',
            // only a settled delivery is replayed: one in flight is already on its way
            ConditionExpression: '#s IN (:d, :dl)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: {
              ':p': 'pending',
              ':z': 0,
              ':now': now,
              ':g': shardOf(d.delivery_id),
              ':q': dueSk(now, d),
              ':x': expiry(now),
              ':d': 'delivered',
              ':dl': 'dead_lettered',
            },
          }),
        ),
      );
    }
  }
}
