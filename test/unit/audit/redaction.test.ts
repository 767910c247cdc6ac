import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAuditEvent,
  isSensitiveValue,
  looksLikeEmail,
  MAX_CLEAR_STRING,
  redact,
  REDACTED,
} from '../../../lambdas/audit/core/events.js';

/** The pattern the review flagged (F3); kept here only as the reference language on short inputs. */
const OLD_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const timed = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

describe('audit redaction (F3)', () => {
  it('F3: redacts the attack body "a@" + "."×250000 + "@" in far less than a second', () => {
    const body = `a@${'.'.repeat(250_000)}@`;
    let out: ReturnType<typeof redact> | undefined;
    const ms = timed(() => {
      out = redact({ params: { method: 'GET', path: '/', body } });
    });
    expect(ms).toBeLessThan(100);
    const kept = (out!.value as { params: { body: string } }).params.body;
    expect(kept.startsWith('a@...')).toBe(true); // not an address: not redacted, only cut in the clear copy
    expect(kept).toMatch(/…\[TRUNCATED 250003 chars; full value in the encrypted payload\]$/);
    expect(out!.fields).toEqual([]);
  });

  it('F3: every value pattern stays linear on 256 KB adversarial inputs', () => {
    const n = 256 * 1024;
    const inputs = [
      `a@${'.'.repeat(n)}@`,
      `${'a'.repeat(n)}@`,
      `a@${'b.'.repeat(n / 2)}`,
      `${'A'.repeat(n)}.${'A'.repeat(n)}.`,
      `${'a.'.repeat(n / 2)}`,
      `bearer ${' '.repeat(n)}`,
      `sk-${'a'.repeat(n)}!`,
      `${'1'.repeat(n)}-`,
      `${'\t'.repeat(n)}x`,
    ];
    // A quadratic pattern takes ~1.4 s at 32 K characters and minutes at 256 K; a linear one a few ms.
    for (const s of inputs) {
      isSensitiveValue(s.slice(0, 1000)); // compile the patterns first
      const ms = timed(() => isSensitiveValue(s));
      expect(ms, `${JSON.stringify(s.slice(0, 12))}… took ${ms} ms`).toBeLessThan(250);
    }
  });

  it('decides the same language as the old e-mail pattern on inputs up to 320 characters', () => {
    const chars = fc.constantFrom('a', 'b', '.', '@', ' ', '\t', '-', 'é', '\u00a0');
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 24 }).map((a) => a.join('')),
        (s) => {
          expect(looksLikeEmail(s)).toBe(OLD_EMAIL.test(s));
        },
      ),
      { numRuns: 20_000 },
    );
    expect(looksLikeEmail('alice@example.com')).toBe(true);
    expect(looksLikeEmail(`${'a'.repeat(400)}@example.com`)).toBe(false); // longer than any address
  });

  it('still redacts addresses, JWTs, bearer tokens, API keys and SSNs wherever they appear', () => {
    const { value, fields } = redact({
      who: ' alice@example.com ',
      list: ['x', 'eyJhbGciOi.eyJzdWIiOiJh.c2lnbmF0dXJl'],
      h: 'Bearer abc',
      k: 'ghp_abcdefgh1234',
      s: '123-45-6789',
      ok: 'users:read',
    });
    expect(value).toEqual({
      who: REDACTED,
      list: ['x', REDACTED],
      h: REDACTED,
      k: REDACTED,
      s: REDACTED,
      ok: 'users:read',
    });
    expect(fields).toEqual(['h', 'k', 'list[1]', 's', 'who']);
  });

  it('keeps strings up to MAX_CLEAR_STRING in clear and cuts longer ones', () => {
    const short = 'x'.repeat(MAX_CLEAR_STRING);
    expect(redact({ a: short }).value).toEqual({ a: short });
    expect((redact({ a: `${short}y` }).value as { a: string }).a).toHaveLength(
      256 + '…[TRUNCATED 4097 chars; full value in the encrypted payload]'.length,
    );
  });

  it('redacts an address used as the target of an event', () => {
    const { event } = buildAuditEvent(
      {
        tenant_id: 't',
        event_type: 'operation.executed',
        action: 'okta:users:read',
        target: 'bob@corp.example',
        occurred_at: '2026-12-01T00:00:00.000Z',
        trace_id: 'tr',
        correlation_id: 'c',
        payload: {},
      },
      'aev_1',
      new Date('2026-12-01T00:00:00.000Z'),
      Buffer.alloc(32, 1),
    );
    expect(event.target).toBe(REDACTED);
    expect(event.redacted_fields).toContain('(target)');
  });
});
