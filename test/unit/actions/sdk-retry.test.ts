import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ArxClient, ArxSdkError, backoffMs, isRetryable } from '../../../sdk/index.js';

interface Seen {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  at: number;
}

/** A loopback ARX whose answers to POST /v1/actions are scripted, one per attempt. */
async function scripted(answers: { status: number; body: unknown; headers?: Record<string, string> }[]) {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({
        method: req.method!,
        path: req.url!,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        at: Date.now(),
      });
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const svid = `h.${Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')}.s`;
const executed = {
  action_id: 'act_1',
  status: 'executed',
  correlation_id: 'c',
  trace_id: 't',
  decision: {
    effect: 'permit',
    approval: 'none',
    risk: 'low',
    policy: null,
    determining_policies: [],
    errors: [],
    bundle_version: null,
  },
  result: { ok: true },
  approval_metadata: null,
};
const gateway500 = { status: 500, body: { message: 'Internal Server Error' } };

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('SDK retries transient refusals with backoff and jitter, bounded, reusing the Idempotency-Key', () => {
  it('authorizer failure (gateway 500), 429 with Retry-After and 503 are retried; every attempt carries the same key', async () => {
    const s = await scripted([
      gateway500,
      { status: 429, body: { message: 'Too Many Requests' }, headers: { 'retry-after': '1' } },
      { status: 503, body: { message: 'Service Unavailable' } },
      { status: 200, body: executed },
    ]);
    close = s.close;
    const arx = new ArxClient({ apiUrl: s.url, svid, retry: { baseDelayMs: 10, maxDelayMs: 2000 } });
    const r = await arx.execute({ connector: 'okta', operation: 'users:read', params: {} });
    expect(r.actionId).toBe('act_1');
    expect(s.seen).toHaveLength(4);
    const keys = new Set(s.seen.map((x) => x.idempotencyKey));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    // The 429's Retry-After (1 s) was honoured before the third attempt.
    expect(s.seen[2]!.at - s.seen[1]!.at).toBeGreaterThanOrEqual(950);
  });

  it('a caller-given idempotencyKey is sent as is; a new logical call gets a new key', async () => {
    const s = await scripted([{ status: 200, body: executed }]);
    close = s.close;
    const arx = new ArxClient({ apiUrl: s.url, svid });
    await arx.execute({ connector: 'okta', operation: 'users:read', params: {}, idempotencyKey: 'order-42' });
    await arx.execute({ connector: 'okta', operation: 'users:read', params: {} });
    await arx.execute({ connector: 'okta', operation: 'users:read', params: {} });
    expect(s.seen[0]!.idempotencyKey).toBe('order-42');
    expect(s.seen[1]!.idempotencyKey).not.toBe(s.seen[2]!.idempotencyKey);
  });

  it('gives up after maxAttempts with the last status', async () => {
    const s = await scripted([gateway500]);
    close = s.close;
    const arx = new ArxClient({ apiUrl: s.url, svid, retry: { maxAttempts: 3, baseDelayMs: 5 } });
    const err = await arx.execute({ connector: 'okta', operation: 'users:read', params: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArxSdkError);
    expect((err as ArxSdkError).status).toBe(500);
    expect(s.seen).toHaveLength(3);
  });

  it("a handler's problem+json 500 and a 4xx are not retried", async () => {
    const s = await scripted([{ status: 500, body: { type: 'about:blank', title: 'Internal error', status: 500 } }]);
    close = s.close;
    const arx = new ArxClient({ apiUrl: s.url, svid, retry: { baseDelayMs: 5 } });
    await expect(arx.execute({ connector: 'okta', operation: 'users:read', params: {} })).rejects.toBeInstanceOf(
      ArxSdkError,
    );
    expect(s.seen).toHaveLength(1);
    expect(isRetryable(400, { message: 'Internal Server Error' })).toBe(false);
    expect(isRetryable(403, { message: 'Forbidden' })).toBe(false);
    expect(isRetryable(502, { action_id: 'a', status: 'failed' })).toBe(false);
  });

  it('backoff is full jitter under an exponential ceiling, capped; Retry-After raises it, within the cap', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(0, o, null, () => 0.999)).toBe(99);
    expect(backoffMs(3, o, null, () => 0.999)).toBe(799);
    expect(backoffMs(10, o, null, () => 0.999)).toBe(999);
    expect(backoffMs(2, o, null, () => 0)).toBe(0);
    expect(backoffMs(0, o, '1', () => 0)).toBe(1000);
    expect(backoffMs(0, o, '30', () => 0)).toBe(1000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffMs(4, o)));
    expect(spread.size).toBeGreaterThan(10);
  });
});
