import { z } from 'zod';
import { EVENT_TYPES, FORMATS, SUBSCRIPTION_KINDS } from './core/model.js';

const Timestamp = z.string().describe('RFC 3339 date-time');

/** POST /v1/subscriptions. Which fields a kind needs is checked by the core (400, nothing stored). */
export const CreateSubscriptionBody = z.strictObject({
  kind: z.enum(SUBSCRIPTION_KINDS),
  /** webhook: the receiver; slack: the incoming-webhook URL; pagerduty: the Events API v2 endpoint (default US). */
  url: z.string().min(1).max(2048).optional(),
  /** Event types to receive, or `*` for all of them (slack and pagerduty: the alert types only). */
  event_types: z
    .array(z.enum([...EVENT_TYPES, '*']))
    .min(1)
    .max(EVENT_TYPES.length + 1),
  format: z.enum(FORMATS),
  /** pagerduty: the integration's routing key (stored encrypted, never returned). */
  routing_key: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/)
    .optional(),
  description: z.string().max(500).optional(),
});
export type CreateSubscriptionBody = z.infer<typeof CreateSubscriptionBody>;

export const SubscriptionView = z.object({
  subscription_id: z.string(),
  kind: z.enum(SUBSCRIPTION_KINDS),
  /** The destination (a Slack incoming-webhook URL is a credential: shown as its origin only); null for s3. */
  url: z.string().nullable(),
  event_types: z.array(z.string()),
  format: z.enum(FORMATS),
  status: z.enum(['active', 'disabled']),
  disabled_reason: z.string().nullable(),
  description: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type SubscriptionView = z.infer<typeof SubscriptionView>;

export const SubscriptionCreated = SubscriptionView.extend({
  /** Standard Webhooks signing secret (`whsec_…`): shown once, stored encrypted. */
  signing_secret: z.string(),
});

export const SubscriptionList = z.object({ items: z.array(SubscriptionView) });

export const DeliveryView = z.object({
  /** The `webhook-id` every attempt of this delivery carries. */
  delivery_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(['pending', 'retrying', 'delivered', 'dead_lettered']),
  attempts: z.number().int(),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  /** When the next attempt is due (pending, retrying); null once delivered or dead-lettered. */
  next_attempt_at: Timestamp.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  delivered_at: Timestamp.nullable(),
  dead_lettered_at: Timestamp.nullable(),
});

export const DeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'retrying', 'delivered', 'dead_lettered']).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  next_token: z.string().min(1).max(4096).optional(),
});
export type DeliveriesQuery = z.infer<typeof DeliveriesQuery>;

export const DeliveryList = z.object({ items: z.array(DeliveryView), next_token: z.string().optional() });

/** POST /v1/subscriptions/{id}/replay: the named deliveries, or every dead-lettered one. */
export const ReplayBody = z.strictObject({
  delivery_ids: z
    .array(z.string().regex(/^msg_[A-Za-z0-9_-]{1,64}$/))
    .min(1)
    .max(100)
    .optional(),
});
export type ReplayBody = z.infer<typeof ReplayBody>;

export const Replayed = z.object({ replayed: z.number().int(), delivery_ids: z.array(z.string()) });
