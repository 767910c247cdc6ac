import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_RETRY, backoffMs, nextAttemptAt } from '../../../lambdas/streaming/core/retry.js';
import { deliveryId, newSigningSecret, sign, webhookHeaders } from '../../../lambdas/streaming/core/signing.js';

describe('Standard Webhooks signing', () => {
  it('signs what the standardwebhooks library (an independent implementation) verifies and signs alike', () => {
    const secret = newSigningSecret();
    const body = JSON.stringify({ type: 'agent.terminated', timestamp: '2026-12-02T06:00:00Z', data: { a: 1 } });
    const now = new Date();
    const h = webhookHeaders(secret, 'msg_abc', now, body);
    expect(h['webhook-timestamp']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(new Webhook(secret).verify(body, h)).toEqual(JSON.parse(body));
    expect(new Webhook(secret).sign('msg_abc', now, body)).toBe(h['webhook-signature']);
  });

  it('any change to id, timestamp or body breaks verification (property)', () => {
    const secret = newSigningSecret();
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.nat({ max: 199 }), (body, i) => {
        const ts = Math.floor(Date.now() / 1000);
        const sig = sign(secret, 'msg_x', ts, body);
        const idx = i % body.length;
        const changed = body.slice(0, idx) + String.fromCharCode(body.charCodeAt(idx) ^ 1) + body.slice(idx + 1);
        expect(sign(secret, 'msg_x', ts, changed)).not.toBe(sig);
        expect(sign(secret, 'msg_y', ts, body)).not.toBe(sig);
        expect(sign(secret, 'msg_x', ts + 1, body)).not.toBe(sig);
      }),
      { numRuns: 100 },
    );
  });

  it('derives a stable webhook-id per (subscription, type, event), different for any other triple', () => {
    const a = deliveryId('sub_1', 'agent.terminated', 'evt_1');
    expect(a).toBe(deliveryId('sub_1', 'agent.terminated', 'evt_1'));
    expect(a).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    expect(
      new Set([
        a,
        deliveryId('sub_2', 'agent.terminated', 'evt_1'),
        deliveryId('sub_1', 'audit.anchoring.failed', 'evt_1'),
        deliveryId('sub_1', 'agent.terminated', 'evt_2'),
      ]).size,
    ).toBe(4);
  });

  it('makes whsec_ secrets of 24 random bytes', () => {
    const s = newSigningSecret();
    expect(s).toMatch(/^whsec_/);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(24);
    expect(newSigningSecret()).not.toBe(s);
  });
});

describe('retry schedule', () => {
  it('doubles each step with equal jitter (between half and all of the step), capped', () => {
    for (let n = 1; n <= 30; n++) {
      const step = Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseMs * 2 ** (n - 1));
      expect(backoffMs(DEFAULT_RETRY, n, 0)).toBe(Math.round(step / 2));
      expect(backoffMs(DEFAULT_RETRY, n, 0.999999)).toBeLessThanOrEqual(step);
    }
    expect(backoffMs(DEFAULT_RETRY, 1, 0.5)).toBe(3750);
    expect(backoffMs(DEFAULT_RETRY, 100, 1)).toBe(DEFAULT_RETRY.maxDelayMs);
  });

  it('keeps retrying for 24 h after creation, then gives up (dead letter)', () => {
    for (const random of [0, 0.5, 0.999]) {
      const created = new Date('2026-12-01T00:00:00Z');
      let now = created;
      let attempts = 1;
      for (;;) {
        const next = nextAttemptAt(DEFAULT_RETRY, created, now, attempts, random);
        if (!next) break;
        expect(next.getTime()).toBeGreaterThan(now.getTime());
        now = next;
        attempts++;
      }
      const lastAttemptAge = now.getTime() - created.getTime();
      expect(lastAttemptAge).toBeLessThanOrEqual(24 * 3600_000);
      // the gap left is shorter than the next step: the window was used up, not cut short
      expect(lastAttemptAge).toBeGreaterThan(24 * 3600_000 - DEFAULT_RETRY.maxDelayMs);
      expect(attempts).toBeGreaterThan(12);
      expect(attempts).toBeLessThan(40);
    }
  });
});
