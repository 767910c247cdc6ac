import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportFailedError, exportSpans } from '../../../lambdas/observability/core/export.js';
import type { SpanRecord } from '../../../lambdas/observability/core/model.js';
import { guardedFetch, outboundUrlProblem } from '../../../lambdas/shared/outbound.js';

const resolvesTo =
  (address: string) => (_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) =>
    cb(null, [{ address, family: address.includes(':') ? 6 : 4 }]);
const unresolvable = (_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) =>
  cb(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), []);

const span: SpanRecord = {
  tenant_id: 't1',
  trace_id: 'a'.repeat(32),
  span_id: 'b'.repeat(16),
  parent_span_id: null,
  name: 'arx.decision',
  kind: 1,
  start_ns: '1764633600000000000',
  end_ns: '1764633600001000000',
  start_time: '2025-12-02T00:00:00.000Z',
  duration_ms: 1,
  source: 'arx',
  agent_id: 'agt_1',
  operation: null,
  provider: null,
  model: null,
  tool_name: 'okta:users:read',
  usage: null,
  cost_usd: null,
  priced_as: null,
  status: { code: 0, message: '' },
  attributes: { 'arx.decision': 'permit' },
  events: [],
  resource: { 'service.name': 'arx' },
  scope: { name: 'arx', version: '1' },
  content_ref: null,
  ingested_at: '2025-12-02T00:00:00.000Z',
};

/** F22 for `PUT /v1/observability/export` and the bus consumer's sends, on loopback receivers. */
describe('OTLP export outbound guard (F22)', () => {
  let receiver: Server;
  let port = 0;
  const got: string[] = [];
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      got.push(req.url ?? '');
      req.resume();
      if (req.url === '/redirect') {
        res.writeHead(307, { location: `http://127.0.0.1:${port}/v1/traces` });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    port = (receiver.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => receiver.close(() => r(undefined)));
  });

  it('refuses private, link-local, loopback and metadata endpoints when they are configured', async () => {
    const prod = { allowPrivate: false, allowLoopback: false, lookup: unresolvable as never };
    for (const [url, reason] of [
      ['http://127.0.0.1:4318/v1/traces', 'not a public address'],
      ['http://[::1]:4318/v1/traces', 'not a public address'],
      ['http://[::ffff:127.0.0.1]/v1/traces', 'not a public address'],
      ['http://169.254.169.254/latest/meta-data', 'not a public address'],
      ['http://[fe80::1]/v1/traces', 'not a public address'],
      ['https://10.1.2.3/v1/traces', 'not a public address'],
      ['https://192.168.0.10/v1/traces', 'not a public address'],
      ['https://[fd00::1]/v1/traces', 'not a public address'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata service'],
      ['http://localhost:4318/v1/traces', 'loopback name'],
      ['https://user:pw@otel.example.com/v1/traces', 'credentials in the URL'],
      ['ftp://otel.example.com/', 'is not http(s)'],
    ] as const) {
      expect(await outboundUrlProblem(url, prod), url).toContain(reason);
    }
    // a name that resolves to a private address now is refused now
    expect(
      await outboundUrlProblem('https://otel.example.com/v1/traces', {
        ...prod,
        lookup: resolvesTo('10.0.0.7') as never,
      }),
    ).toBe('otel.example.com resolves to 10.0.0.7, which is not a public address');
    // public addresses, and names that do not resolve yet (judged again at send time), are accepted
    expect(await outboundUrlProblem('https://8.8.8.8/v1/traces', prod)).toBeNull();
    expect(
      await outboundUrlProblem('https://otel.example.com/v1/traces', {
        ...prod,
        lookup: resolvesTo('93.184.215.14') as never,
      }),
    ).toBeNull();
    expect(await outboundUrlProblem('https://not-yet.example.com/v1/traces', prod)).toBeNull();
  });

  it('lets loopback through only in the local runtime, never link-local, private or metadata', async () => {
    const local = { allowPrivate: false, allowLoopback: true };
    expect(await outboundUrlProblem(`http://127.0.0.1:${port}/v1/traces`, local)).toBeNull();
    expect(await outboundUrlProblem(`http://localhost:${port}/v1/traces`, local)).toBeNull();
    expect(await outboundUrlProblem('http://169.254.169.254/latest/meta-data', local)).toContain('not a public');
    expect(await outboundUrlProblem('http://10.0.0.1/', local)).toContain('not a public');
    expect(await outboundUrlProblem('http://metadata.google.internal/', local)).toContain('metadata');
    // and a local send to the loopback receiver works
    const sent = await exportSpans(
      { endpoint: `http://127.0.0.1:${port}/v1/traces`, protocol: 'http/protobuf', headers: {} },
      [span],
      { fetch: guardedFetch(local) },
    );
    expect(sent).toEqual({ attempts: 1 });
  });

  it('checks again at send time, after DNS resolution: a name that now resolves to loopback is refused, not retried', async () => {
    const before = got.length;
    const rebinding = guardedFetch({ allowPrivate: false, lookup: resolvesTo('127.0.0.1') as never });
    const sleeps: number[] = [];
    const err = await exportSpans(
      { endpoint: `http://otel.example.com:${port}/v1/traces`, protocol: 'http/protobuf', headers: {} },
      [span],
      { fetch: rebinding, attempts: 3, sleep: async (ms) => void sleeps.push(ms) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportFailedError);
    expect(String((err as Error).message)).toContain('resolves to a non-public address');
    expect(sleeps).toEqual([]); // permanent: no retry
    expect(got.length).toBe(before); // nothing reached the receiver
    // a link-local literal (instance metadata) is refused before any connection, too
    const strict = guardedFetch({ allowPrivate: false });
    await expect(
      exportSpans({ endpoint: 'http://169.254.169.254/v1/traces', protocol: 'http/json', headers: {} }, [span], {
        fetch: strict,
      }),
    ).rejects.toThrow(/not a public address/);
  });

  it('follows no redirect, even to a receiver it may reach', async () => {
    const before = got.length;
    const local = guardedFetch({ allowPrivate: false, allowLoopback: true });
    await expect(
      exportSpans({ endpoint: `http://127.0.0.1:${port}/redirect`, protocol: 'http/protobuf', headers: {} }, [span], {
        fetch: local,
        sleep: async () => undefined,
      }),
    ).rejects.toThrow(/redirects are not followed/);
    expect(got.slice(before)).toEqual(['/redirect']); // the redirect target was never called
  });
});
