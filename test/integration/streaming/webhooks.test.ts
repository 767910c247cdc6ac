import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { provisionTestStack } from '../../support/stack.js';
import { eventually } from '../../support/wait.js';
import { eventOf, harness, verify, webhookReceiver } from './support.js';

const suffix = Math.random().toString(36).slice(2, 8);
const tenant = `stream-${suffix}`;
const admin: AuthContext = { tenantId: tenant, subject: 'alice', roles: ['admin'], principalType: 'human' };
const auditor: AuthContext = { ...admin, subject: 'aud', roles: ['auditor'] };
const intruder: AuthContext = { ...admin, tenantId: `${tenant}-other` };

let h: ReturnType<typeof harness>;
/** The same handlers with a 120 s window: for retries that must end delivered however slow the host is. */
let hLong: ReturnType<typeof harness>;
let rx: Awaited<ReturnType<typeof webhookReceiver>>;
let env: Record<string, string>;
/** After this, `/recovers` answers 200. */
let recovered = false;

beforeAll(async () => {
  const stack = await provisionTestStack();
  // The 24 h retry window compressed to 2 s, backoff from 50 ms (the same code path, shorter settings).
  env = {
    ...stack.env,
    ARX_STREAMING_RETRY_BASE_MS: '50',
    ARX_STREAMING_RETRY_MAX_DELAY_MS: '300',
    ARX_STREAMING_RETRY_WINDOW_S: '2',
    ARX_STREAMING_TIMEOUT_MS: '3000',
  };
  rx = await webhookReceiver((path, nth) => {
    if (path.startsWith('/ok')) return 200;
    if (path === '/flaky') return nth <= 2 ? 500 : 204;
    if (path === '/gone') return 410;
    if (path === '/recovers') return recovered ? 200 : 503;
    return 500;
  });
  const handlers = {
    api: (await import('../../../lambdas/streaming/handlers/api.js')).handler as never,
    bus: (await import('../../../lambdas/streaming/handlers/bus-consumer.js')).handler as never,
    retry: (await import('../../../lambdas/streaming/handlers/retry.js')).handler as never,
  };
  h = harness(env, handlers);
  hLong = harness({ ...env, ARX_STREAMING_RETRY_WINDOW_S: '120' }, handlers);
});
afterAll(async () => {
  await rx?.close();
});

const create = async (path: string, event_types: string[] = ['agent.terminated'], format = 'arx') => {
  const r = await h.api('POST /v1/subscriptions', admin, {
    body: { kind: 'webhook', url: rx.url(path), event_types, format },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { subscription_id: string; signing_secret: string };
};
const deliveries = async (id: string, who = admin) =>
  (await h.api('GET /v1/subscriptions/{id}/deliveries', who, { params: { id } })).body.items as {
    delivery_id: string;
    status: string;
    attempts: number;
    last_status: number | null;
    last_error: string | null;
    next_attempt_at: string | null;
    event_type: string;
  }[];
/** Runs the scheduled retry worker until `done` holds (the worker itself is what a schedule invokes). */
const retryUntil = async <T>(done: () => Promise<T | undefined | null | false>, via = h) =>
  eventually(
    async () => {
      await via.retry();
      return done();
    },
    15_000,
    50,
  );

describe('streaming webhooks (Standard Webhooks, on moto, a local receiver)', () => {
  it('creates a subscription whose whsec_ secret is shown once and stored only encrypted', async () => {
    const s = await create('/ok/secret');
    expect(s.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(s).toMatchObject({ kind: 'webhook', status: 'active', format: 'arx', event_types: ['agent.terminated'] });
    const got = await h.api('GET /v1/subscriptions/{id}', auditor, { params: { id: s.subscription_id } });
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain('whsec_');
    expect(got.body).not.toHaveProperty('signing_secret');
    const list = await h.api('GET /v1/subscriptions', admin);
    expect(list.body.items.map((i: { subscription_id: string }) => i.subscription_id)).toContain(s.subscription_id);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
    // at rest: sealed under the tenant's data key, the plaintext nowhere in the item
    const raw = await documentClient().send(
      new GetCommand({ TableName: env.ARX_CONTROL_TABLE, Key: { pk: `T#${tenant}#SUB`, sk: s.subscription_id } }),
    );
    expect(raw.Item?.secret_enc).toMatchObject({ alg: 'A256GCM', edk: expect.any(String), ct: expect.any(String) });
    expect(JSON.stringify(raw.Item)).not.toContain(s.signing_secret.slice(6));
  });

  it('delivers a state change signed per Standard Webhooks, verified by the standardwebhooks library, once per event', async () => {
    const s = await create('/ok/a');
    const e = eventOf(tenant, { agent_id: 'agt_1', termination_id: 'trm_1', reason: 'compromised' });
    await h.publish('agent.terminated', e);
    const [r] = rx.at('/ok/a');
    expect(r).toBeDefined();
    const payload = verify(s.signing_secret, r!) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(payload).toMatchObject({ type: 'agent.terminated', data: { event_id: e.event_id, agent_id: 'agt_1' } });
    expect(r!.headers['webhook-id']).toMatch(/^msg_/);
    expect(r!.headers['content-type']).toBe('application/json');
    // a tampered body or another secret does not verify
    expect(() => verify(s.signing_secret, { ...r!, body: r!.body.replace('agt_1', 'agt_2') })).toThrow();
    expect(() => verify(`whsec_${Buffer.alloc(24, 7).toString('base64')}`, r!)).toThrow();
    // the bus delivers at least once: the same event again is not a second delivery
    await h.publish('agent.terminated', e);
    await h.retry();
    expect(rx.at('/ok/a')).toHaveLength(1);
    const [d] = await deliveries(s.subscription_id);
    expect(d).toMatchObject({
      delivery_id: r!.headers['webhook-id'],
      status: 'delivered',
      attempts: 1,
      last_status: 200,
      next_attempt_at: null,
    });
    // event types it did not subscribe to are not delivered
    await h.publish('policy.decision', eventOf(tenant, { effect: 'permit' }));
    expect(rx.at('/ok/a')).toHaveLength(1);
  });

  it('retries an endpoint answering 500 with backoff, under one stable webhook-id, until it accepts', async () => {
    const s = await create('/flaky');
    await hLong.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_2' }));
    const [first] = await deliveries(s.subscription_id);
    expect(first).toMatchObject({ status: 'retrying', attempts: 1, last_status: 500 });
    expect(Date.parse(first!.next_attempt_at!)).toBeGreaterThan(Date.now() - 1000);
    expect(first!.last_error).toContain('HTTP 500');
    const done = await retryUntil(async () => {
      const [d] = await deliveries(s.subscription_id);
      return d?.status === 'delivered' ? d : null;
    }, hLong);
    expect(done).toMatchObject({ attempts: 3, last_status: 204 });
    const got = rx.at('/flaky');
    expect(got).toHaveLength(3);
    for (const r of got) verify(s.signing_secret, r); // every attempt verifies (re-signed at its own timestamp)
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([done.delivery_id]));
    // backoff: the gaps between attempts grow (exponential, jitter at most halves a step)
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(25);
  });

  it('dead-letters a delivery when the retry window is over, visible in its deliveries, and replays it', async () => {
    const s = await create('/recovers');
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_3' }));
    const dead = await retryUntil(async () => {
      const [d] = await deliveries(s.subscription_id);
      return d?.status === 'dead_lettered' ? d : null;
    });
    expect(dead.attempts).toBeGreaterThan(2);
    expect(dead).toMatchObject({ last_status: 503, next_attempt_at: null });
    expect(dead.last_error).toMatch(/^gave up after \d+ attempts: endpoint answered HTTP 503/);
    const attempts = rx.at('/recovers');
    expect(attempts).toHaveLength(dead.attempts);
    for (const r of attempts) verify(s.signing_secret, r);
    // dead letters are listed by status; the worker no longer attempts them
    const listed = await h.api('GET /v1/subscriptions/{id}/deliveries', auditor, {
      params: { id: s.subscription_id },
      query: { status: 'dead_lettered' },
    });
    expect(listed.body.items.map((d: { delivery_id: string }) => d.delivery_id)).toEqual([dead.delivery_id]);
    await h.retry();
    expect(rx.at('/recovers')).toHaveLength(dead.attempts);

    // the receiver is fixed: replay sends the dead letter again under the same webhook-id
    recovered = true;
    const rep = await h.api('POST /v1/subscriptions/{id}/replay', admin, {
      params: { id: s.subscription_id },
      body: {},
    });
    expect(rep).toMatchObject({ status: 202, body: { replayed: 1, delivery_ids: [dead.delivery_id] } });
    const redone = await retryUntil(async () => {
      const [d] = await deliveries(s.subscription_id);
      return d?.status === 'delivered' ? d : null;
    });
    expect(redone).toMatchObject({ delivery_id: dead.delivery_id, attempts: 1, last_status: 200 });
    const last = rx.at('/recovers').at(-1)!;
    expect(last.headers['webhook-id']).toBe(dead.delivery_id);
    verify(s.signing_secret, last);
    // replaying a delivery that is unknown, or a subscription with nothing dead, changes nothing
    const unknown = await h.api('POST /v1/subscriptions/{id}/replay', admin, {
      params: { id: s.subscription_id },
      body: { delivery_ids: ['msg_nope'] },
    });
    expect(unknown.status).toBe(404);
    const none = await h.api('POST /v1/subscriptions/{id}/replay', admin, {
      params: { id: s.subscription_id },
      body: {},
    });
    expect(none.body).toEqual({ replayed: 0, delivery_ids: [] });
  });

  it('delivers after a crash: a delivery whose first attempt was never settled is sent once its lease runs out', async () => {
    const s = await create('/ok/crash');
    const { DynamoStreamingStore } = await import('../../../lambdas/streaming/adapters/dynamo-streaming-store.js');
    const { deliveryId } = await import('../../../lambdas/streaming/core/signing.js');
    const e = eventOf(tenant, { agent_id: 'agt_c' });
    const past = new Date(Date.now() - 60_000).toISOString();
    const id = deliveryId(s.subscription_id, 'agent.terminated', e.event_id);
    // what a consumer that died mid-attempt leaves behind: claimed (attempt 1), lease already over
    await new DynamoStreamingStore(env.ARX_CONTROL_TABLE!).createDelivery({
      tenant_id: tenant,
      subscription_id: s.subscription_id,
      delivery_id: id,
      event_id: e.event_id,
      event_type: 'agent.terminated',
      event: { type: 'agent.terminated', time: past, detail: e },
      status: 'pending',
      attempts: 1,
      last_status: null,
      last_error: null,
      next_attempt_at: past,
      created_at: past,
      window_from: past,
      updated_at: past,
      delivered_at: null,
      dead_lettered_at: null,
    });
    // the redelivered bus event does not send it a second time at once: the worker owns it
    await h.publish('agent.terminated', e);
    expect(rx.at('/ok/crash')).toHaveLength(0);
    await h.retry();
    const [r] = rx.at('/ok/crash');
    expect(r?.headers['webhook-id']).toBe(id);
    verify(s.signing_secret, r!);
    const [d] = await deliveries(s.subscription_id);
    expect(d).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('disables a subscription whose endpoint answers 410 Gone and sends it nothing more', async () => {
    const s = await create('/gone');
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_4' }));
    const sub = await h.api('GET /v1/subscriptions/{id}', admin, { params: { id: s.subscription_id } });
    expect(sub.body).toMatchObject({ status: 'disabled', disabled_reason: 'endpoint answered 410 Gone' });
    const [d] = await deliveries(s.subscription_id);
    expect(d).toMatchObject({ status: 'dead_lettered', attempts: 1, last_status: 410 });
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_5' }));
    await h.retry();
    expect(rx.at('/gone')).toHaveLength(1);
    expect(await deliveries(s.subscription_id)).toHaveLength(1);
    const rep = await h.api('POST /v1/subscriptions/{id}/replay', admin, {
      params: { id: s.subscription_id },
      body: {},
    });
    expect(rep.status).toBe(409);
  });

  it("keeps tenants apart: another tenant's subscription is 404 everywhere, and its events never reach it", async () => {
    const s = await create('/ok/mine');
    const id = { id: s.subscription_id };
    for (const [route, body] of [
      ['GET /v1/subscriptions/{id}', undefined],
      ['GET /v1/subscriptions/{id}/deliveries', undefined],
      ['POST /v1/subscriptions/{id}/replay', {}],
      ['DELETE /v1/subscriptions/{id}', undefined],
    ] as const) {
      const r = await h.api(route, intruder, { params: id, ...(body ? { body } : {}) });
      expect(r.status, route).toBe(404);
    }
    expect((await h.api('GET /v1/subscriptions', intruder)).body.items).toEqual([]);
    await h.publish('agent.terminated', eventOf(intruder.tenantId, { agent_id: 'agt_x' }));
    expect(rx.at('/ok/mine')).toHaveLength(0);
    // still there for its owner
    expect((await h.api('GET /v1/subscriptions/{id}', admin, { params: id })).status).toBe(200);
  });

  it('deletes a subscription: 204, then 404, and later events create no delivery', async () => {
    const s = await create('/ok/deleted');
    expect((await h.api('DELETE /v1/subscriptions/{id}', admin, { params: { id: s.subscription_id } })).status).toBe(
      204,
    );
    expect((await h.api('GET /v1/subscriptions/{id}', admin, { params: { id: s.subscription_id } })).status).toBe(404);
    expect((await h.api('DELETE /v1/subscriptions/{id}', admin, { params: { id: s.subscription_id } })).status).toBe(
      404,
    );
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_6' }));
    expect(rx.at('/ok/deleted')).toHaveLength(0);
  });

  it('refuses bad subscriptions with a 400 naming the field, and stores nothing', async () => {
    const before = await h.api('GET /v1/subscriptions', admin);
    const ok = { kind: 'webhook', url: rx.url('/ok/bad'), event_types: ['agent.terminated'], format: 'arx' };
    for (const [body, field] of [
      [{ ...ok, kind: 'email' }, 'kind'],
      [{ ...ok, url: 'not a url' }, 'url'],
      [{ ...ok, url: 'ftp://hooks.example.com/x' }, 'url'],
      [{ ...ok, url: 'http://169.254.169.254/latest/meta-data' }, 'url'],
      [{ ...ok, url: 'http://10.0.0.7/hook' }, 'url'],
      [{ ...ok, url: 'https://user:pw@hooks.example.com/x' }, 'url'],
      [{ ...ok, url: undefined }, 'url'],
      [{ ...ok, event_types: ['agent.exploded'] }, 'event_types'],
      [{ ...ok, event_types: [] }, 'event_types'],
      [{ ...ok, format: 'cef' }, 'format'],
      [{ ...ok, secret: 'whsec_mine' }, ''],
      [{ kind: 's3', event_types: ['*'], format: 'arx' }, 'format'],
      [{ kind: 's3', url: rx.url('/ok/s3'), event_types: ['*'], format: 'ocsf' }, 'url'],
      [{ kind: 'pagerduty', event_types: ['agent.terminated'], format: 'arx' }, 'routing_key'],
      [{ ...ok, routing_key: 'R0123456789abcdef0123456789abcdef' }, 'routing_key'],
      [
        { kind: 'slack', url: 'https://example.com/services/x', event_types: ['agent.terminated'], format: 'arx' },
        'url',
      ],
      [{ kind: 'pagerduty', routing_key: 'R01', event_types: ['policy.decision'], format: 'arx' }, 'event_types'],
    ] as const) {
      const r = await h.api('POST /v1/subscriptions', admin, { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.type).toBe('https://arx.dev/problems/validation');
      if (field) expect(JSON.stringify(r.body.errors), JSON.stringify(body)).toContain(field);
    }
    const after = await h.api('GET /v1/subscriptions', admin);
    expect(after.body.items).toEqual(before.body.items);
    const rows = await documentClient().send(
      new QueryCommand({
        TableName: env.ARX_CONTROL_TABLE,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#${tenant}#SUB` },
      }),
    );
    expect(rows.Items?.length).toBe(before.body.items.length);
    // and an auditor may read but not create
    expect((await h.api('POST /v1/subscriptions', auditor, { body: ok })).status).toBe(403);
  });
});
