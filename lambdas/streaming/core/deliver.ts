/**
 * Fan-out and delivery. A bus event becomes one delivery per interested subscription, written
 * claimed for its first attempt under a lease (a crash before it is settled leaves it to the retry
 * worker once the lease runs out) and attempted at once;
 * a failure schedules the next attempt with backoff and jitter until the retry window is over,
 * then the delivery is dead-lettered (visible in the subscription's deliveries, replayable).
 * A 410 Gone disables the subscription (Standard Webhooks). Delivery is at least once: an attempt
 * that crashes after the receiver accepted it is sent again, under the same `webhook-id`.
 */
import type { Clock } from '../../shared/clock.js';
import { type Delivery, type StreamEvent, type Subscription, eventTypesOf, wants } from './model.js';
import type { DeliveryRef, LakeWriter, SecretBox, Send, StreamingStore } from './ports.js';
import { bodyFor } from './render.js';
import { type RetryPolicy, nextAttemptAt } from './retry.js';
import { deliveryId, webhookHeaders } from './signing.js';

export interface DeliveryDeps {
  readonly store: StreamingStore;
  readonly secrets: SecretBox;
  readonly send: Send;
  readonly lake: LakeWriter;
  readonly clock: Clock;
  readonly retry: RetryPolicy;
  /** Per-attempt HTTP timeout (ms). */
  readonly timeoutMs: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** Secrets opened before, by subscription and sealed value (a cache; optional). */
  readonly openSecret?: (sub: Subscription) => Promise<Record<string, string>>;
}

/** Days as the lake partitions them (UTC, YYYYMMDD). */
export const eventDay = (iso: string): string => iso.slice(0, 10).replaceAll('-', '');

const errText = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string } };
  const code = err.cause?.code ? ` (${err.cause.code})` : '';
  return `${err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timeout' : err.name}${code}: ${err.message}`.slice(
    0,
    300,
  );
};

/**
 * Creates the deliveries a bus event calls for and attempts them.
 * @returns the deliveries created (a redelivered event creates none) and how many were delivered now
 */
export async function fanOut(
  deps: DeliveryDeps,
  detailType: string,
  detail: Record<string, unknown>,
  time: string,
): Promise<{ created: number; delivered: number }> {
  const tenant = typeof detail.tenant_id === 'string' ? detail.tenant_id : null;
  const eventId = typeof detail.event_id === 'string' ? detail.event_id : null;
  const types = eventTypesOf(detailType, detail);
  if (!tenant || !eventId || types.length === 0) return { created: 0, delivered: 0 };
  const subs = (await deps.store.subscriptionsForDelivery(tenant)).filter((s) => s.status === 'active');
  const at = deps.clock.now();
  const now = at.toISOString();
  // Written already claimed for its first attempt (one write less per event); if this process
  // dies before settling it, the lease runs out and the retry worker attempts it.
  const lease = leaseAfter(deps, at);
  const todo: { d: Delivery; sub: Subscription }[] = [];
  for (const sub of subs)
    for (const type of types) {
      if (!wants(sub, type)) continue;
      const event: StreamEvent = {
        type,
        time,
        detail: detail as StreamEvent['detail'],
      };
      const d: Delivery = {
        tenant_id: tenant,
        subscription_id: sub.subscription_id,
        delivery_id: deliveryId(sub.subscription_id, type, eventId),
        event_id: eventId,
        event_type: type,
        event,
        status: 'pending',
        attempts: 1,
        last_status: null,
        last_error: null,
        next_attempt_at: lease,
        created_at: now,
        window_from: now,
        updated_at: now,
        delivered_at: null,
        dead_lettered_at: null,
      };
      // A redelivered bus event finds its deliveries: the retry worker owns them from here.
      if (await deps.store.createDelivery(d)) todo.push({ d, sub });
    }
  const done = await Promise.all(todo.map(({ d, sub }) => send(deps, d, sub)));
  return { created: todo.length, delivered: done.filter((d) => d?.status === 'delivered').length };
}

/** Attempts the due deliveries, `concurrency` at a time. @returns how many were attempted and delivered */
export async function runDue(
  deps: DeliveryDeps,
  o: { limit?: number; concurrency?: number } = {},
): Promise<{ attempted: number; delivered: number }> {
  const refs = await deps.store.due(deps.clock.now().toISOString(), o.limit ?? 200);
  let attempted = 0;
  let delivered = 0;
  const subs = new Map<string, Promise<Subscription | null>>();
  const queue = [...refs];
  const workers = Array.from({ length: Math.min(o.concurrency ?? 8, queue.length) }, async () => {
    for (let ref = queue.shift(); ref; ref = queue.shift()) {
      const d = await deps.store.getDelivery(ref);
      if (!d) continue;
      const key = `${ref.tenant_id}/${ref.subscription_id}`;
      if (!subs.has(key)) subs.set(key, deps.store.getSubscription(ref.tenant_id, ref.subscription_id));
      const out = await attempt(deps, d, await subs.get(key)!);
      if (out) attempted++;
      if (out?.status === 'delivered') delivered++;
    }
  });
  await Promise.all(workers);
  return { attempted, delivered };
}

/**
 * One attempt of `d` to `sub` (null: deleted). Claims it first, so concurrent workers never send
 * the same attempt twice. @returns the delivery as settled, or null when it was not ours to try
 */
export async function attempt(deps: DeliveryDeps, d: Delivery, sub: Subscription | null): Promise<Delivery | null> {
  const now = deps.clock.now();
  const claimed = await deps.store.claim(d, now.toISOString(), leaseAfter(deps, now));
  return claimed ? send(deps, claimed, sub) : null;
}

/** How long a claimed attempt may take before another worker may try again. */
const leaseAfter = (deps: DeliveryDeps, now: Date): string =>
  new Date(now.getTime() + deps.timeoutMs + 30_000).toISOString();

/** Sends the attempt `claimed` holds and settles its outcome. */
async function send(deps: DeliveryDeps, claimed: Delivery, sub: Subscription | null): Promise<Delivery> {
  const now = deps.clock.now();
  const settle = async (s: Omit<Parameters<StreamingStore['settle']>[1], 'at'>): Promise<Delivery> => {
    const at = deps.clock.now().toISOString();
    await deps.store.settle(claimed, { ...s, at });
    return {
      ...claimed,
      ...s,
      updated_at: at,
      ...(s.status === 'delivered' ? { delivered_at: at } : {}),
      ...(s.status === 'dead_lettered' ? { dead_lettered_at: at } : {}),
    };
  };
  if (sub?.status !== 'active')
    return settle({
      status: 'dead_lettered',
      last_status: null,
      last_error: sub ? `subscription disabled: ${sub.disabled_reason ?? ''}`.trim() : 'subscription deleted',
      next_attempt_at: null,
    });

  let status: number | null = null;
  let error: string | null = null;
  try {
    const secret = await (deps.openSecret ?? ((s) => deps.secrets.open(s.tenant_id, s.subscription_id, s.secret_enc)))(
      sub,
    );
    const body = bodyFor(sub.kind, sub.format, claimed.event, secret);
    if (sub.kind === 's3') {
      await deps.lake.write({
        tenantId: sub.tenant_id,
        source: `arx-${String((JSON.parse(body) as { class_uid: number }).class_uid)}`,
        day: eventDay(claimed.event.time),
        name: claimed.delivery_id,
        lines: [body],
      });
      status = 200;
    } else {
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'ARX-Webhooks/1',
        ...webhookHeaders(secret.signing_secret!, claimed.delivery_id, deps.clock.now(), body),
      };
      const res = await deps.send(secret.url ?? sub.url!, { method: 'POST', headers, body, timeoutMs: deps.timeoutMs });
      status = res.status;
      if (status < 200 || status >= 300) error = `endpoint answered HTTP ${status}`;
    }
  } catch (e) {
    error = errText(e);
  }
  if (status !== null && status >= 200 && status < 300)
    return settle({ status: 'delivered', last_status: status, last_error: null, next_attempt_at: null });
  if (status === 410) {
    // Standard Webhooks: 410 Gone means the endpoint is gone for good — stop sending to it.
    const reason = 'endpoint answered 410 Gone';
    await deps.store.disableSubscription(sub.tenant_id, sub.subscription_id, reason, now.toISOString());
    return settle({
      status: 'dead_lettered',
      last_status: 410,
      last_error: `${reason}; subscription disabled`,
      next_attempt_at: null,
    });
  }
  const windowFrom = new Date(claimed.window_from);
  const next = nextAttemptAt(
    deps.retry,
    windowFrom,
    deps.clock.now(),
    claimed.attempts,
    (deps.random ?? Math.random)(),
  );
  return settle(
    next
      ? { status: 'retrying', last_status: status, last_error: error, next_attempt_at: next.toISOString() }
      : {
          status: 'dead_lettered',
          last_status: status,
          last_error: `gave up after ${claimed.attempts} attempts: ${error}`,
          next_attempt_at: null,
        },
  );
}

export type { DeliveryRef };
