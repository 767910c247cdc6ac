import { describe, expect, it } from 'vitest';
import { encodeSpans, exportSpans, ExportFailedError } from '../../../lambdas/observability/core/export.js';
import { decodeTraces } from '../../../lambdas/observability/core/otlp.js';
import { arxSpansFor } from '../../../lambdas/observability/core/arx-spans.js';

const trace = 'cd'.repeat(16);
const spans = arxSpansFor(
  'operation.executed',
  {
    tenant_id: 't1',
    trace_id: trace,
    action_id: 'act_9',
    agent_id: 'agt_1',
    action: 'okta:users:read',
    risk: 'low',
    traceparent: `00-${trace}-3333333333333333-01`,
    created_at: '2026-11-25T10:00:00.000Z',
    updated_at: '2026-11-25T10:00:00.400Z',
    latency_ms: 300,
  },
  '2026-11-25T10:00:01Z',
  null,
)!;

/** An endpoint that answers the given statuses in turn (a stand-in for the vendor's collector). */
function endpoint(statuses: number[]) {
  const calls: { headers: Record<string, string>; body: unknown }[] = [];
  const f = (async (_url: string, init: { headers: Record<string, string>; body: unknown }) => {
    calls.push({ headers: init.headers, body: init.body });
    return new Response(null, { status: statuses[Math.min(calls.length - 1, statuses.length - 1)]! });
  }) as unknown as typeof fetch;
  return { f, calls };
}

describe('exportSpans', () => {
  it('encodes ARX spans as OTLP that decodes back (protobuf and JSON)', () => {
    for (const protocol of ['http/protobuf', 'http/json'] as const) {
      const { body } = encodeSpans(spans, protocol);
      const back = decodeTraces(
        typeof body === 'string' ? Buffer.from(body) : body,
        protocol === 'http/json' ? 'json' : 'protobuf',
      ).spans;
      expect(back.map((s) => s.name).sort()).toEqual(['arx.decision', 'arx.execution', 'arx.governed_action']);
      expect(back.find((s) => s.name === 'arx.execution')!.attributes).toMatchObject({
        'arx.action.id': 'act_9',
        'gen_ai.tool.name': 'okta:users:read',
      });
    }
  });

  it('retries 503s with backoff and succeeds', async () => {
    const e = endpoint([503, 503, 200]);
    const waits: number[] = [];
    const r = await exportSpans(
      {
        endpoint: 'https://collector.example/v1/traces',
        protocol: 'http/protobuf',
        headers: { authorization: 'Bearer k' },
      },
      spans,
      { fetch: e.f, sleep: async (ms) => void waits.push(ms) },
    );
    expect(r.attempts).toBe(3);
    expect(waits).toEqual([200, 400]);
    expect(e.calls[0]!.headers).toMatchObject({ authorization: 'Bearer k', 'content-type': 'application/x-protobuf' });
  });

  it('gives up after the attempts (the bus then redelivers, the DLQ keeps it) and does not retry a 400', async () => {
    const down = endpoint([500]);
    await expect(
      exportSpans({ endpoint: 'https://c.example', protocol: 'http/json', headers: {} }, spans, {
        fetch: down.f,
        sleep: async () => {},
      }),
    ).rejects.toBeInstanceOf(ExportFailedError);
    expect(down.calls).toHaveLength(3);
    const bad = endpoint([400]);
    await expect(
      exportSpans({ endpoint: 'https://c.example', protocol: 'http/json', headers: {} }, spans, {
        fetch: bad.f,
        sleep: async () => {},
      }),
    ).rejects.toThrow(/HTTP 400/);
    expect(bad.calls).toHaveLength(1);
  });
});
