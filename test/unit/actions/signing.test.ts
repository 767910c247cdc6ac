import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bindingHash,
  signLinkToken,
  slackSignature,
  verifyLinkToken,
  verifySlackSignature,
  verifyWebhookSignature,
  webhookSignatureHeader,
} from '../../../lambdas/actions/core/signing.js';

const vector = JSON.parse(
  readFileSync(new URL('../../../../shared/vectors/slack-signature.json', import.meta.url), 'utf8'),
) as {
  signing_secret: string;
  timestamp: string;
  body: string;
  expected_signature: string;
};
const at = (s: number) => new Date(s * 1000);

describe('verifySlackSignature', () => {
  it('accepts Slack’s documented vector at its timestamp', () => {
    expect(slackSignature(vector.signing_secret, vector.timestamp, vector.body)).toBe(vector.expected_signature);
    const r = verifySlackSignature({
      signingSecret: vector.signing_secret,
      timestamp: vector.timestamp,
      signature: vector.expected_signature,
      rawBody: vector.body,
      now: at(Number(vector.timestamp) + 299),
    });
    expect(r).toEqual({ ok: true });
  });

  it('refuses the vector more than 300 s away from its timestamp', () => {
    const args = {
      signingSecret: vector.signing_secret,
      timestamp: vector.timestamp,
      signature: vector.expected_signature,
      rawBody: vector.body,
    };
    expect(verifySlackSignature({ ...args, now: at(Number(vector.timestamp) + 301) })).toEqual({
      ok: false,
      why: 'stale',
    });
    expect(verifySlackSignature({ ...args, now: at(Number(vector.timestamp) - 301) })).toEqual({
      ok: false,
      why: 'stale',
    });
  });

  it('refuses a forged signature, a wrong secret and missing headers', () => {
    const now = at(Number(vector.timestamp));
    const base = { signingSecret: vector.signing_secret, timestamp: vector.timestamp, rawBody: vector.body, now };
    expect(verifySlackSignature({ ...base, signature: `v0=${'0'.repeat(64)}` })).toEqual({
      ok: false,
      why: 'mismatch',
    });
    expect(verifySlackSignature({ ...base, signingSecret: 'other', signature: vector.expected_signature })).toEqual({
      ok: false,
      why: 'mismatch',
    });
    expect(verifySlackSignature({ ...base, signature: undefined })).toEqual({ ok: false, why: 'missing' });
    expect(verifySlackSignature({ ...base, timestamp: 'abc', signature: vector.expected_signature })).toEqual({
      ok: false,
      why: 'missing',
    });
  });

  it('refuses any single-character change of the body', () => {
    const now = at(Number(vector.timestamp));
    fc.assert(
      fc.property(fc.nat({ max: vector.body.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), (i, c) => {
        fc.pre(vector.body[i] !== c);
        const body = vector.body.slice(0, i) + c + vector.body.slice(i + 1);
        return !verifySlackSignature({
          signingSecret: vector.signing_secret,
          timestamp: vector.timestamp,
          signature: vector.expected_signature,
          rawBody: body,
          now,
        }).ok;
      }),
      { numRuns: 200 },
    );
  });
});

describe('link tokens', () => {
  const claims = {
    t: 't1',
    a: 'apr_1',
    d: 'approve' as const,
    r: 'manager@example.com',
    exp: 2_000_000_000,
    n: 'nonce',
  };
  it('verifies a token signed with the same key before its expiry', () => {
    const tok = signLinkToken('k1', claims);
    expect(verifyLinkToken('k1', tok, at(1_999_999_999))).toEqual({ ok: true, claims });
  });
  it('refuses another key, a tampered payload and an expired token', () => {
    const tok = signLinkToken('k1', claims);
    expect(verifyLinkToken('k2', tok, at(1))).toEqual({ ok: false, why: 'mismatch' });
    const [, mac] = tok.split('.');
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, d: 'deny' })).toString('base64url')}.${mac}`;
    expect(verifyLinkToken('k1', tampered, at(1))).toEqual({ ok: false, why: 'mismatch' });
    expect(verifyLinkToken('k1', tok, at(2_000_000_000))).toEqual({ ok: false, why: 'stale' });
    expect(verifyLinkToken('k1', 'garbage', at(1))).toEqual({ ok: false, why: 'malformed' });
  });
});

describe('webhook signatures', () => {
  it('round-trips and refuses stale or altered bodies', () => {
    const now = new Date('2026-04-24T10:00:00Z');
    const h = webhookSignatureHeader('sec', now, '{"a":1}');
    expect(verifyWebhookSignature('sec', h, '{"a":1}', now).ok).toBe(true);
    expect(verifyWebhookSignature('sec', h, '{"a":2}', now)).toMatchObject({ ok: false, why: 'mismatch' });
    expect(verifyWebhookSignature('sec', h, '{"a":1}', new Date(now.getTime() + 301_000))).toMatchObject({
      ok: false,
      why: 'stale',
    });
    expect(verifyWebhookSignature('sec', undefined, '{"a":1}', now)).toMatchObject({ ok: false, why: 'missing' });
  });
});

describe('bindingHash', () => {
  it('ignores key order and changes with any param value', () => {
    expect(bindingHash('a', 'okta', 'users:deactivate', { x: 1, y: 'z' })).toBe(
      bindingHash('a', 'okta', 'users:deactivate', { y: 'z', x: 1 }),
    );
    expect(bindingHash('a', 'okta', 'users:deactivate', { user_id: 'u1' })).not.toBe(
      bindingHash('a', 'okta', 'users:deactivate', { user_id: 'u2' }),
    );
    expect(bindingHash('a', 'okta', 'users:deactivate', { user_id: 'u1' })).not.toBe(
      bindingHash('b', 'okta', 'users:deactivate', { user_id: 'u1' }),
    );
  });
});
