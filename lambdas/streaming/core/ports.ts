import type { Delivery, DeliveryStatus, Subscription } from './model.js';

/** A delivery's key. */
export interface DeliveryRef {
  readonly tenant_id: string;
  readonly subscription_id: string;
  readonly delivery_id: string;
}

/** What an attempt's outcome changes on a claimed delivery. */
export interface Settlement {
  readonly status: DeliveryStatus;
  readonly last_status: number | null;
  readonly last_error: string | null;
  readonly next_attempt_at: string | null;
  readonly at: string;
}

/** Subscriptions and their deliveries (the control table in production). */
export interface StreamingStore {
  putSubscription(s: Subscription): Promise<void>;
  getSubscription(tenantId: string, id: string): Promise<Subscription | null>;
  listSubscriptions(tenantId: string): Promise<Subscription[]>;
  /**
   * The subscriptions a bus event fans out to. A tenant found to have none may be answered from a
   * short window (a subscription created in another process starts receiving within it); a
   * tenant with subscriptions is always read, so a deleted one never receives another event.
   */
  subscriptionsForDelivery(tenantId: string): Promise<Subscription[]>;
  /** @returns false when there was none */
  deleteSubscription(tenantId: string, id: string): Promise<boolean>;
  disableSubscription(tenantId: string, id: string, reason: string, at: string): Promise<void>;

  /**
   * Writes a new delivery, claimed for its first attempt until `next_attempt_at` (its lease).
   * @returns false when this (subscription, event, type) already has one
   */
  createDelivery(d: Delivery): Promise<boolean>;
  getDelivery(ref: DeliveryRef): Promise<Delivery | null>;
  /**
   * Takes the next attempt of a due delivery: counts it and leases the delivery until
   * `leaseUntil` (a crashed attempt is retried after it). @returns the claimed delivery, or null
   * when another worker took it first, it is no longer due, or it is settled.
   */
  claim(d: Delivery, now: string, leaseUntil: string): Promise<Delivery | null>;
  /** Records the claimed attempt's outcome (ignored when a later claim has taken the delivery since). */
  settle(claimed: Delivery, s: Settlement): Promise<void>;
  /** Deliveries of a subscription, newest first. */
  listDeliveries(
    tenantId: string,
    subscriptionId: string,
    o: { limit: number; token?: string | undefined; status?: DeliveryStatus | undefined },
  ): Promise<{ items: Delivery[]; next_token?: string }>;
  /** Deliveries due at `now` (oldest first, every tenant), at most `limit`. */
  due(now: string, limit: number): Promise<DeliveryRef[]>;
  /** Makes settled deliveries due again (attempts and window restart). */
  requeue(deliveries: readonly Delivery[], now: string): Promise<void>;
}

/** Encrypts signing secrets and destination credentials under the tenant's data key. */
export interface SecretBox {
  seal(tenantId: string, subscriptionId: string, secret: Record<string, string>): Promise<unknown>;
  open(tenantId: string, subscriptionId: string, sealed: unknown): Promise<Record<string, string>>;
}

/** The minimal HTTP answer an attempt looks at. */
export interface SendResult {
  readonly status: number;
}
export type Send = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; timeoutMs: number },
) => Promise<SendResult>;

/** Appends OCSF records to the tenant's security-lake partition (kind `s3`). */
export interface LakeWriter {
  /**
   * Writes one JSON Lines object under the security-lake partition of `source` (one source per
   * OCSF class), region, account and day, then the tenant. @returns its key
   */
  write(o: { tenantId: string; source: string; day: string; name: string; lines: readonly string[] }): Promise<string>;
}
