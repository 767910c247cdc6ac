/**
 * Streaming (issue 17): tenants subscribe outside systems to ARX's events. A subscription names
 * a kind of destination, the event types it wants and the payload format; every (subscription,
 * event) pair becomes one delivery record, attempted at once and retried with exponential backoff
 * and jitter until it is delivered or its retry window (24 h) is over, then dead-lettered.
 */
import { DETAIL_TYPES } from '../../shared/events.js';

export const SUBSCRIPTION_KINDS = ['webhook', 'slack', 'pagerduty', 's3'] as const;
export type SubscriptionKind = (typeof SUBSCRIPTION_KINDS)[number];
export const FORMATS = ['arx', 'ocsf'] as const;
export type Format = (typeof FORMATS)[number];

/** Detail-types that are ARX's own plumbing (a queued scan, discovery evidence), never streamed. */
const INTERNAL_DETAIL_TYPES: readonly string[] = ['discovery.scan.requested', 'discovery.evidence'];

/**
 * Event types a subscription may name: the bus's detail-types (ARCHITECTURE.md, Events, and
 * `agent.drift` from the drift capability) without the internal ones, and
 * `audit.anchoring.failed`, which is derived here from an `audit.block.sealed` event whose block
 * could not be RFC 3161-anchored. `*` subscribes to all of them.
 */
export const STREAMED_DETAIL_TYPES = DETAIL_TYPES.filter((t) => !INTERNAL_DETAIL_TYPES.includes(t));
export const ANCHORING_FAILED = 'audit.anchoring.failed';
export const EVENT_TYPES = [...STREAMED_DETAIL_TYPES, ANCHORING_FAILED] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events PagerDuty and Slack subscriptions page or notify about (issue 17). */
export const ALERT_EVENT_TYPES: readonly EventType[] = ['agent.terminated', 'agent.drift', ANCHORING_FAILED];

export type SubscriptionStatus = 'active' | 'disabled';

/** A stored subscription; the secret is only ever stored encrypted (`secret_enc`). */
export interface Subscription {
  readonly tenant_id: string;
  readonly subscription_id: string;
  readonly kind: SubscriptionKind;
  /** Destination URL (webhook, slack, pagerduty); null for s3. */
  readonly url: string | null;
  readonly event_types: readonly string[];
  readonly format: Format;
  readonly description: string | null;
  readonly status: SubscriptionStatus;
  readonly disabled_reason: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly secret_enc: unknown;
}

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'dead_lettered';

/** One (subscription, event) delivery: what was sent, how often, and what comes next. */
export interface Delivery {
  readonly tenant_id: string;
  readonly subscription_id: string;
  /** The `webhook-id`: stable across retries and replays (derived from subscription, event and type). */
  readonly delivery_id: string;
  readonly event_id: string;
  readonly event_type: string;
  /** The event as received (detail + the time it happened); rendered and signed at each attempt. */
  readonly event: StreamEvent;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly last_status: number | null;
  readonly last_error: string | null;
  readonly next_attempt_at: string | null;
  readonly created_at: string;
  /** Start of the retry window: the creation, or the last replay. */
  readonly window_from: string;
  readonly updated_at: string;
  readonly delivered_at: string | null;
  readonly dead_lettered_at: string | null;
}

/** An ARX event as streaming sees it. */
export interface StreamEvent {
  readonly type: string;
  /** When the event happened (the bus event's time). */
  readonly time: string;
  readonly detail: Record<string, unknown> & { tenant_id: string; event_id: string };
}

/** The event types a bus event stands for: its own, and `audit.anchoring.failed` for an un-anchored seal. */
export function eventTypesOf(detailType: string, detail: Record<string, unknown>): string[] {
  const out = (STREAMED_DETAIL_TYPES as readonly string[]).includes(detailType) ? [detailType] : [];
  if (detailType === 'audit.block.sealed' && detail.anchored === false) out.push(ANCHORING_FAILED);
  return out;
}

/** Whether `sub` wants events of `type`. */
export const wants = (sub: Pick<Subscription, 'event_types' | 'status'>, type: string): boolean =>
  sub.status === 'active' && (sub.event_types.includes('*') || sub.event_types.includes(type));
