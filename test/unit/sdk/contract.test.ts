import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sdk from '../../../sdk/index.js';

interface Exchange {
  request: { method: string; path: string; same_idempotency_key_as_previous?: boolean };
  response: { status: number; body: unknown; headers?: Record<string, string> };
}
interface Case {
  name: string;
  exchanges: Exchange[];
  expect: Record<string, unknown>;
}

/** The wire contract shared with the Python SDK (sdk/python/tests/test_contract.py replays the same file). */
const CASES = (
  JSON.parse(readFileSync(new URL('../../../sdk/contract/actions.json', import.meta.url), 'utf8')) as { cases: Case[] }
).cases;
const svid = () => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'ES256' })}.${enc({ sub: 'spiffe://acme.arx/langchain/01A', exp: 4102444800 })}.sig`;
};
const camel = (k: string) => k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

describe('ArxClient wire contract (sdk/contract/actions.json)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const left = [...c.exchanges];
    let previousKey: string | null = null;
    const fetchImpl = (async (url: string | URL, init?: RequestInit) => {
      const ex = left.shift();
      expect(ex, `unexpected extra request ${String(url)}`).toBeDefined();
      const u = new URL(String(url));
      expect([init?.method ?? 'GET', u.pathname]).toEqual([ex!.request.method, ex!.request.path]);
      const key = new Headers(init?.headers).get('idempotency-key');
      if (ex!.request.same_idempotency_key_as_previous) {
        expect(key, 'a retry carries an Idempotency-Key').toBeTruthy();
        expect(key).toBe(previousKey);
      }
      previousKey = key;
      return new Response(JSON.stringify(ex!.response.body), {
        status: ex!.response.status,
        headers: { 'content-type': 'application/json', ...ex!.response.headers },
      });
    }) as typeof fetch;
    const pending: unknown[] = [];
    const client = new sdk.ArxClient({ apiUrl: 'http://arx.test', svid: svid(), fetch: fetchImpl, pollWaitS: 1 });
    const run = () =>
      client.execute({ connector: 'okta', operation: 'users:read', params: {}, onPending: (p) => pending.push(p) });
    const want = c.expect;
    if ('outcome' in want) {
      const r = (await run()) as unknown as Record<string, unknown>;
      expect(r.status).toBe(want.outcome);
      for (const k of ['action_id', 'correlation_id', 'trace_id', 'result', 'approval_metadata'])
        if (k in want) expect(r[camel(k)], k).toEqual(want[k]);
    } else {
      const err = (await run().then(
        () => expect.unreachable('expected an error'),
        (e: unknown) => e,
      )) as Record<string, unknown>;
      expect(err).toBeInstanceOf(
        (sdk as unknown as Record<string, new (...a: never[]) => unknown>)[
          want.error === 'ArxError' ? 'ArxSdkError' : String(want.error)
        ],
      );
      for (const k of ['by', 'action_id', 'approval_id', 'code', 'retryable', 'status'])
        if (k in want) expect(err[camel(k)], k).toEqual(want[k]);
      if ('decision_effect' in want) expect((err.decision as { effect: string }).effect).toBe(want.decision_effect);
      if ('message_contains' in want) expect(String(err.message)).toContain(String(want.message_contains));
    }
    if ('pending' in want)
      expect(pending).toEqual([
        Object.fromEntries(Object.entries(want.pending as object).map(([k, v]) => [camel(k), v])),
      ]);
    expect(left).toEqual([]);
  });
});
