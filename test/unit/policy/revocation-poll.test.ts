import { describe, expect, it } from 'vitest';
import { revocationPollPeriod } from '../../../layers/pdp-extension/src/revocation-cache.js';
import { REVOCATION_CACHE_MS } from '../../../lambdas/shared/ports.js';

describe('PDP extension revocation poll period', () => {
  it('polls at least twice per staleness window, so the cache never goes stale between reads', () => {
    expect(revocationPollPeriod(500, REVOCATION_CACHE_MS)).toBe(REVOCATION_CACHE_MS / 2);
    expect(revocationPollPeriod(100, 500)).toBe(100);
    expect(revocationPollPeriod(5000, 10_000)).toBe(1000); // never slower than 1 s
    expect(revocationPollPeriod(500, 1)).toBe(1);
  });
});
