/**
 * Standard Webhooks 1.0 signing (https://www.standardwebhooks.com/): the secret is `whsec_` +
 * base64 of random bytes (the HMAC key is the decoded bytes); each request carries `webhook-id`
 * (stable across retries), `webhook-timestamp` (integer Unix seconds of this attempt) and
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.
 * Receivers verify with any Standard Webhooks library; the tests use the project's own.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A new signing secret (24 random bytes, as the Standard Webhooks libraries generate). */
export const newSigningSecret = (): string => `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;

/** The HMAC key of a `whsec_…` secret. */
export function signingKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError('not a whsec_ secret');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** `v1,<signature>` over `id.timestamp.body`. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', signingKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(secret: string, id: string, at: Date, body: string): Record<string, string> {
  const ts = Math.floor(at.getTime() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body) };
}

/**
 * The `webhook-id` of an event's delivery to a subscription: derived from the subscription, the
 * event type and the ARX event id, so a redelivered bus event, a retry and a replay all carry the
 * same id (receivers de-duplicate on it).
 */
export function deliveryId(subscriptionId: string, eventType: string, eventId: string): string {
  const h = createHash('sha256').update(`${subscriptionId}\n${eventType}\n${eventId}`).digest('base64url');
  return `msg_${h.slice(0, 32)}`;
}
