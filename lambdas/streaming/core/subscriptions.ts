/**
 * The subscriptions API: create (the signing secret shown once), read, delete, deliveries and
 * replay. Every read and change is scoped to the caller's tenant: another tenant's subscription
 * is not found (404). Bad input is a 400 that stores nothing.
 */
import type { Clock } from '../../shared/clock.js';
import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { ALERT_EVENT_TYPES, type Delivery, type Subscription } from './model.js';
import type { SecretBox, StreamingStore } from './ports.js';
import { PAGERDUTY_EVENTS_URL } from './render.js';
import { newSigningSecret } from './signing.js';
import type { CreateSubscriptionBody, DeliveriesQuery, ReplayBody, SubscriptionView } from '../schemas.js';

export interface SubscriptionDeps {
  readonly store: StreamingStore;
  readonly secrets: SecretBox;
  readonly clock: Clock;
  /** Why a destination URL may not be used (the outbound guard), or null. */
  readonly urlProblem: (url: string) => Promise<string | null>;
}

/** The API view: never a secret (a Slack URL is stored as its origin only; the URL itself is sealed). */
export function viewOf(s: Subscription): SubscriptionView {
  return {
    subscription_id: s.subscription_id,
    kind: s.kind,
    url: s.url,
    event_types: [...s.event_types],
    format: s.format,
    status: s.status,
    disabled_reason: s.disabled_reason,
    description: s.description,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

export function deliveryView(d: Delivery) {
  return {
    delivery_id: d.delivery_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    last_status: d.last_status,
    last_error: d.last_error,
    next_attempt_at: d.status === 'pending' || d.status === 'retrying' ? d.next_attempt_at : null,
    created_at: d.created_at,
    updated_at: d.updated_at,
    delivered_at: d.delivered_at,
    dead_lettered_at: d.dead_lettered_at,
  };
}

/** What is wrong with a request for its kind (each message names its field). */
async function problems(deps: SubscriptionDeps, b: CreateSubscriptionBody): Promise<FieldError[]> {
  const out: FieldError[] = [];
  const needsUrl = b.kind === 'webhook' || b.kind === 'slack';
  if (needsUrl && !b.url) out.push({ path: 'url', message: `a ${b.kind} subscription needs a url` });
  if (b.kind === 's3' && b.url)
    out.push({ path: 'url', message: 'an s3 subscription writes to the security lake; no url' });
  if (b.kind === 's3' && b.format !== 'ocsf')
    out.push({
      path: 'format',
      message: 'an s3 subscription writes OCSF (the security lake layout): format must be "ocsf"',
    });
  if (b.kind === 'pagerduty' && !b.routing_key)
    out.push({ path: 'routing_key', message: 'a pagerduty subscription needs the integration routing_key' });
  if (b.kind !== 'pagerduty' && b.routing_key)
    out.push({ path: 'routing_key', message: 'routing_key is for pagerduty subscriptions only' });
  if (b.kind === 'slack' || b.kind === 'pagerduty') {
    const bad = b.event_types.filter((t) => t !== '*' && !ALERT_EVENT_TYPES.includes(t as never));
    if (bad.length)
      out.push({
        path: 'event_types',
        message: `${b.kind} subscriptions carry ${ALERT_EVENT_TYPES.join(', ')} (or *); not ${bad.join(', ')}`,
      });
  }
  if (
    b.kind === 'slack' &&
    b.url &&
    !/^https:\/\/hooks\.slack\.com\/services\//.test(b.url) &&
    !(await localOk(deps, b.url))
  )
    out.push({ path: 'url', message: 'a slack url is an incoming webhook, https://hooks.slack.com/services/…' });
  const url = b.url ?? (b.kind === 'pagerduty' ? PAGERDUTY_EVENTS_URL : null);
  if (url && !out.some((p) => p.path === 'url')) {
    const problem = await deps.urlProblem(url);
    if (problem) out.push({ path: 'url', message: `destination refused: ${problem}` });
  }
  return out;
}

/** Local runs (loopback allowed by the guard) may point Slack at a local fake. */
async function localOk(deps: SubscriptionDeps, url: string): Promise<boolean> {
  const u = URL.canParse(url) ? new URL(url) : null;
  return !!u && (u.hostname === '127.0.0.1' || u.hostname === 'localhost') && (await deps.urlProblem(url)) === null;
}

/**
 * Creates a subscription. The signing secret (`whsec_…`) is returned here and only here; it is
 * stored sealed with the tenant's data key, with the PagerDuty routing key and the Slack URL.
 */
export async function createSubscription(deps: SubscriptionDeps, tenantId: string, b: CreateSubscriptionBody) {
  const errs = await problems(deps, b);
  if (errs.length) throw new ValidationError(errs.map((e) => e.message).join('; '), errs);
  const now = deps.clock.now();
  const id = newId('sub', now);
  const signing = newSigningSecret();
  const secret: Record<string, string> = { signing_secret: signing };
  if (b.routing_key) secret.routing_key = b.routing_key;
  // A Slack incoming-webhook URL is itself the credential: sealed, and shown as its origin only.
  if (b.kind === 'slack') secret.url = b.url!;
  const url =
    b.kind === 's3' ? null : b.kind === 'slack' ? `${new URL(b.url!).origin}/…` : (b.url ?? PAGERDUTY_EVENTS_URL);
  const sub: Subscription = {
    tenant_id: tenantId,
    subscription_id: id,
    kind: b.kind,
    url,
    // for slack and pagerduty, `*` means every alert type
    event_types:
      (b.kind === 'slack' || b.kind === 'pagerduty') && b.event_types.includes('*')
        ? [...ALERT_EVENT_TYPES]
        : [...new Set(b.event_types)],
    format: b.format,
    description: b.description ?? null,
    status: 'active',
    disabled_reason: null,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    secret_enc: await deps.secrets.seal(tenantId, id, secret),
  };
  await deps.store.putSubscription(sub);
  return { ...viewOf(sub), signing_secret: signing };
}

export async function getSubscription(deps: Pick<SubscriptionDeps, 'store'>, tenantId: string, id: string) {
  const s = await deps.store.getSubscription(tenantId, id);
  if (!s) throw new NotFoundError(`subscription ${id} not found`);
  return s;
}

export async function listDeliveries(
  deps: Pick<SubscriptionDeps, 'store'>,
  tenantId: string,
  id: string,
  q: DeliveriesQuery,
) {
  await getSubscription(deps, tenantId, id);
  const page = await deps.store.listDeliveries(tenantId, id, {
    limit: q.limit ?? 50,
    token: q.next_token,
    status: q.status,
  });
  return { items: page.items.map(deliveryView), ...(page.next_token ? { next_token: page.next_token } : {}) };
}

/**
 * Sends settled deliveries again, under their own `webhook-id`, with a fresh retry window: the
 * named ones (all must exist and be settled), or every dead-lettered one. The retry worker
 * delivers them on its next run. A disabled subscription is not replayed (409).
 */
export async function replay(
  deps: Pick<SubscriptionDeps, 'store' | 'clock'>,
  tenantId: string,
  id: string,
  b: ReplayBody,
) {
  const sub = await getSubscription(deps, tenantId, id);
  if (sub.status !== 'active')
    throw new ConflictError(`subscription ${id} is disabled (${sub.disabled_reason ?? 'disabled'}); create a new one`);
  let todo: Delivery[];
  if (b.delivery_ids) {
    const found = await Promise.all(
      [...new Set(b.delivery_ids)].map((d) =>
        deps.store.getDelivery({ tenant_id: tenantId, subscription_id: id, delivery_id: d }),
      ),
    );
    const missing = [...new Set(b.delivery_ids)].filter((_, i) => !found[i]);
    if (missing.length) throw new NotFoundError(`deliveries not found: ${missing.join(', ')}`);
    todo = found as Delivery[];
    const inFlight = todo.filter((d) => d.status === 'pending' || d.status === 'retrying');
    if (inFlight.length)
      throw new ConflictError(`deliveries still being attempted: ${inFlight.map((d) => d.delivery_id).join(', ')}`);
  } else {
    todo = [];
    let token: string | undefined;
    do {
      const page = await deps.store.listDeliveries(tenantId, id, { limit: 100, token, status: 'dead_lettered' });
      todo.push(...page.items);
      token = page.next_token;
    } while (token && todo.length < 1000);
  }
  await deps.store.requeue(todo, deps.clock.now().toISOString());
  return { replayed: todo.length, delivery_ids: todo.map((d) => d.delivery_id) };
}
