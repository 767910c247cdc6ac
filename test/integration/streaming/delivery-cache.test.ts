/**
 * The delivery path's subscription read (issue 19 §3): a tenant without subscriptions is answered
 * from a short window, a subscription written in this process applies at once, and a tenant with
 * subscriptions is read on every event, so a deleted one never receives another. Against moto,
 * counting the Query calls the store really sends.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStreamingStore } from '../../../lambdas/streaming/adapters/dynamo-streaming-store.js';
import type { Subscription } from '../../../lambdas/streaming/core/model.js';
import { spyOnAwsCalls } from '../../support/aws-spy.js';
import { createSingleTable } from '../../support/tables.js';

const table = `stream-cache-${Math.random().toString(36).slice(2, 8)}`;
const at = new Date().toISOString();
const sub = (tenant: string, id: string): Subscription => ({
  tenant_id: tenant,
  subscription_id: id,
  kind: 'webhook',
  url: 'https://hooks.example.com/arx',
  event_types: ['*'],
  format: 'arx',
  description: null,
  status: 'active',
  disabled_reason: null,
  created_at: at,
  updated_at: at,
  secret_enc: null,
});

let spy: ReturnType<typeof spyOnAwsCalls> | undefined;
const queries = () => spy!.take().filter((c) => c.command === 'Query').length;

beforeAll(async () => {
  await createSingleTable(table);
});
afterEach(() => {
  spy?.restore();
  spy = undefined;
});

describe('subscriptions on the delivery path', () => {
  it('answers a tenant without subscriptions from the window, and a new subscription at once', async () => {
    const store = new DynamoStreamingStore(table);
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    spy = spyOnAwsCalls();
    expect(await store.subscriptionsForDelivery(tenant)).toEqual([]);
    expect(queries()).toBe(1);
    for (let i = 0; i < 5; i++) expect(await store.subscriptionsForDelivery(tenant)).toEqual([]);
    expect(queries()).toBe(0);
    // Written through this process (as the local runtime's API and consumer share one): no wait.
    await new DynamoStreamingStore(table).putSubscription(sub(tenant, 'sub_1'));
    spy.take();
    expect((await store.subscriptionsForDelivery(tenant)).map((s) => s.subscription_id)).toEqual(['sub_1']);
    expect(queries()).toBe(1);
  });

  it('reads a tenant with subscriptions on every event, so a deletion applies to the next one', async () => {
    const store = new DynamoStreamingStore(table);
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    await store.putSubscription(sub(tenant, 'sub_a'));
    await store.putSubscription(sub(tenant, 'sub_b'));
    spy = spyOnAwsCalls();
    for (let i = 0; i < 3; i++) expect(await store.subscriptionsForDelivery(tenant)).toHaveLength(2);
    expect(queries()).toBe(3);
    expect(await store.deleteSubscription(tenant, 'sub_a')).toBe(true);
    expect((await store.subscriptionsForDelivery(tenant)).map((s) => s.subscription_id)).toEqual(['sub_b']);
    // The last one deleted in another process: the next event reads and finds none.
    await store.deleteSubscription(tenant, 'sub_b');
    expect(await store.subscriptionsForDelivery(tenant)).toEqual([]);
  });

  it('does not keep an empty answer read while a subscription was being written', async () => {
    const store = new DynamoStreamingStore(table);
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const read = store.subscriptionsForDelivery(tenant);
    await store.putSubscription(sub(tenant, 'sub_race'));
    await read; // may or may not have seen it; either way the empty answer is not kept
    expect((await store.subscriptionsForDelivery(tenant)).map((s) => s.subscription_id)).toEqual(['sub_race']);
  });
});
