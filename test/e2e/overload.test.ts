import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/moto.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { FunctionPool, Throttled, limitsFromEnv } from '../../local/limits.js';
import { testTemplate } from '../support/template.js';

describe('local runtime: bounded concurrency per function, 429 beyond the queue', () => {
  let rt: LocalRuntime;
  let token: string;
  beforeAll(async () => {
    // One execution and one queued caller per function: a burst must overflow.
    rt = await startLocalRuntime({
      template: testTemplate(),
      port: await freePort(),
      prefix: `t${randomBytes(4).toString('hex')}`,
      background: false,
      limits: { concurrency: 1, queue: 1 },
    });
    token = await rt.idp.token({ sub: 'ops', tenant: 'acme', roles: ['auditor'] });
  });
  afterAll(() => rt?.stop());

  it('a burst of 30 is answered at once: 200s and 429s with Retry-After, never a 5xx or a timeout', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const t0 = Date.now();
        const r = await fetch(`${rt.url}/v1/discovery/agents`, { headers: { authorization: `Bearer ${token}` } });
        return {
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await r.text(),
          ms: Date.now() - t0,
        };
      }),
    );
    const by = (s: number) => results.filter((r) => r.status === s);
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(by(200).length).toBeGreaterThanOrEqual(1);
    expect(by(429).length).toBeGreaterThanOrEqual(1);
    for (const r of by(429)) {
      expect(r.retryAfter).toBe('1');
      expect(JSON.parse(r.body)).toEqual({ message: 'Too Many Requests' });
    }
    // Refused without waiting for a slot: far below any function timeout (10 s × 3 locally). The
    // bound is loose because this machine's CPU is shared; a refused request waited at most for
    // the authorizer's one queued caller.
    expect(Math.max(...by(429).map((r) => r.ms))).toBeLessThan(5000);
    // The overload leaves nothing behind: the next request is served.
    const after = await fetch(`${rt.url}/v1/discovery/agents`, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(200);
  });

  it('direct (asynchronous) invocations wait for a slot instead of being refused', async () => {
    const ok = await Promise.all(
      Array.from({ length: 5 }, () =>
        rt.invoke('platform-outbox-relay', { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }),
      ),
    );
    expect(ok).toHaveLength(5);
  });
});

describe('FunctionPool and ARX_LOCAL_CONCURRENCY', () => {
  it('runs at most `concurrency` at once, queues up to `queue`, refuses the rest with Throttled', async () => {
    const pool = new FunctionPool('f', { concurrency: 2, queue: 1 });
    let active = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const task = () =>
      pool.run(async () => {
        peak = Math.max(peak, ++active);
        await new Promise<void>((r) => release.push(r));
        active--;
        return 'done';
      });
    const running = [task(), task(), task()];
    await expect(task()).rejects.toBeInstanceOf(Throttled);
    expect(pool.inFlight).toBe(2);
    expect(pool.queued).toBe(1);
    while (release.length) {
      release.shift()!();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await Promise.all(running)).toEqual(['done', 'done', 'done']);
    expect(peak).toBe(2);
    expect(pool.inFlight).toBe(0);
  });

  it('reads ARX_LOCAL_CONCURRENCY / ARX_LOCAL_QUEUE and refuses nonsense loudly', () => {
    expect(limitsFromEnv({})).toEqual({ concurrency: 10, queue: 100, timeoutScale: 3 });
    expect(limitsFromEnv({ ARX_LOCAL_CONCURRENCY: '3' })).toEqual({ concurrency: 3, queue: 30, timeoutScale: 3 });
    expect(limitsFromEnv({ ARX_LOCAL_CONCURRENCY: '3', ARX_LOCAL_QUEUE: '0', ARX_LOCAL_TIMEOUT_SCALE: '1' })).toEqual({
      concurrency: 3,
      queue: 0,
      timeoutScale: 1,
    });
    expect(() => limitsFromEnv({ ARX_LOCAL_CONCURRENCY: '0' })).toThrow(/ARX_LOCAL_CONCURRENCY/);
    expect(() => limitsFromEnv({ ARX_LOCAL_QUEUE: 'many' })).toThrow(/ARX_LOCAL_QUEUE/);
    expect(() => limitsFromEnv({ ARX_LOCAL_TIMEOUT_SCALE: '-1' })).toThrow(/ARX_LOCAL_TIMEOUT_SCALE/);
  });
});
