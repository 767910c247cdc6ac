/**
 * Observability benchmarks (`npx tsx bench/run.ts observability`):
 *  - OTLP ingest: spans per second through the receiver's in-process path for 1 MB protobuf
 *    batches (decode → alias normalisation → content split → event-time cost → hot-store item
 *    marshalling into BatchWriteItem requests, with the DynamoDB round trip stubbed out), beside raw
 *    protobufjs decoding of the same batches in the same run (target ratio ≥ 0.5);
 *  - GET /v1/traces/{id} core (getTrace over the DynamoDB span store) p99 for a 1,000-span trace
 *    on moto, beside a raw paginated Query of the same partition in the same run (target ≤ 2).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BenchResult } from './run.js';
import { startMoto, emulatorEnv } from '../local/moto.js';
import { createSingleTable } from '../test/support/tables.js';
import { decodeTraces, OtlpTypes } from '../lambdas/observability/core/otlp.js';
import { ingestSpans } from '../lambdas/observability/core/ingest.js';
import { DEFAULT_PRICES } from '../lambdas/observability/core/cost.js';
import { getTrace } from '../lambdas/observability/core/traces.js';
import { DynamoSpanStore } from '../lambdas/observability/adapters/dynamo-span-store.js';
import type { ContentStore } from '../lambdas/observability/core/model.js';

/** A copy of `b` after writing `n` into its first four bytes (a new trace id every 50 spans). */
const stamped = (b: Buffer, n: number): Buffer => {
  b.writeUInt32BE(n, 0);
  return Buffer.from(b);
};

const round = (x: number, d = 1): number => Number(x.toFixed(d));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

const kv = (key: string, v: string | number) => ({
  key,
  value: typeof v === 'number' ? { intValue: v } : { stringValue: v },
});

/** A ~1 MB ExportTraceServiceRequest of GenAI chat and tool spans, as an instrumented agent sends. */
function batch(targetBytes = 1024 * 1024): { body: Uint8Array; spans: number } {
  const spans: unknown[] = [];
  const trace = randomBytes(16);
  let size = 0;
  let i = 0;
  const t0 = BigInt(Date.parse('2026-11-25T10:00:00Z')) * 1_000_000n;
  while (size < targetBytes) {
    const chat = i % 3 !== 2;
    const s = {
      traceId: i % 50 === 0 ? stamped(trace, i) : Buffer.from(trace),
      spanId: randomBytes(8),
      parentSpanId: randomBytes(8),
      name: chat ? 'chat claude-sonnet-4' : 'execute_tool okta:users:read',
      kind: chat ? 3 : 1,
      startTimeUnixNano: (t0 + BigInt(i) * 1_000_000n).toString(),
      endTimeUnixNano: (t0 + BigInt(i) * 1_000_000n + 850_000_000n).toString(),
      attributes: chat
        ? [
            kv('gen_ai.operation.name', 'chat'),
            kv('gen_ai.provider.name', 'anthropic'),
            kv('gen_ai.request.model', 'claude-sonnet-4-20250514'),
            kv('gen_ai.response.model', 'claude-sonnet-4-20250514'),
            kv('gen_ai.usage.input_tokens', 1800 + (i % 400)),
            kv('gen_ai.usage.cache_read.input_tokens', 1200),
            kv('gen_ai.usage.output_tokens', 250 + (i % 90)),
            kv('gen_ai.conversation.id', `conv-${i % 20}`),
            kv('http.response.status_code', 200),
          ]
        : [
            kv('gen_ai.operation.name', 'execute_tool'),
            kv('gen_ai.tool.name', 'okta:users:read'),
            kv('gen_ai.tool.call.id', `call_${i}`),
          ],
      status: { code: 1 },
    };
    spans.push(s);
    size += 180 + (chat ? 330 : 120);
    i++;
  }
  const msg = OtlpTypes.traceRequest.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'access-reviewer'), kv('gen_ai.agent.id', 'agt_bench')] },
        scopeSpans: [{ scope: { name: 'langchain', version: '0.3' }, spans }],
      },
    ],
  });
  const body = OtlpTypes.traceRequest.encode(msg).finish();
  return { body, spans: spans.length };
}

/** DynamoDB client stub: marshals each request as the SDK would, then answers without I/O. */
const marshallingClient = {
  send: async (cmd: {
    input: { RequestItems?: Record<string, { PutRequest: { Item: Record<string, unknown> } }[]> };
  }) => {
    for (const reqs of Object.values(cmd.input.RequestItems ?? {}))
      for (const r of reqs) marshall(r.PutRequest.Item, { removeUndefinedValues: true });
    return {};
  },
} as unknown as DynamoDBDocumentClient;
const noContent: ContentStore = { put: async (_t, k) => k, get: async () => null };

async function ingestBench(): Promise<BenchResult[]> {
  const batches = Array.from({ length: 6 }, () => batch());
  const store = new DynamoSpanStore('bench', marshallingClient);
  const now = new Date('2026-11-25T12:00:00Z');
  const raw = (): number => {
    let n = 0;
    for (const b of batches)
      n += (
        OtlpTypes.traceRequest.decode(b.body) as unknown as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }
      ).resourceSpans[0]!.scopeSpans[0]!.spans.length;
    return n;
  };
  const full = async (): Promise<number> => {
    let n = 0;
    for (const b of batches) {
      const { spans, invalid } = decodeTraces(b.body, 'protobuf');
      const r = await ingestSpans(
        { spans: store, content: noContent, prices: [DEFAULT_PRICES], now },
        { tenantId: 'tnt_bench', agentId: 'agt_bench' },
        spans,
        invalid,
      );
      n += r.accepted;
    }
    return n;
  };
  for (let w = 0; w < 2; w++) {
    raw();
    await full();
  } // warm-up
  const rounds = 5;
  const rawRates: number[] = [];
  const fullRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const a = raw();
    rawRates.push(a / ((performance.now() - t) / 1000));
    t = performance.now();
    const b = await full();
    fullRates.push(b / ((performance.now() - t) / 1000));
  }
  const med = (xs: number[]) => pct(xs, 50);
  return [
    {
      name: 'otlp ingest spans/s (1 MB protobuf batches, in-process path incl. item marshalling)',
      unit: 'spans/s',
      value: round(med(fullRates), 0),
      baseline: round(med(rawRates), 0),
      params: {
        batches: batches.length,
        batch_bytes: batches[0]!.body.length,
        spans_per_batch: batches[0]!.spans,
        rounds,
        baseline: 'protobufjs decode of the same batches',
        target_ratio: '>= 0.5',
      },
    },
  ];
}

async function traceBench(): Promise<BenchResult[]> {
  const moto = await startMoto();
  try {
    Object.assign(process.env, emulatorEnv(moto.endpoint));
    const table = `obs-bench-${randomBytes(3).toString('hex')}`;
    await createSingleTable(table);
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const store = new DynamoSpanStore(table, client);
    const traceId = randomBytes(16).toString('hex');
    const { spans } = decodeTraces(batch(520 * 1024).body, 'protobuf');
    const thousand = spans.slice(0, 1000).map((s) => ({ ...s, traceId }));
    const ing = await ingestSpans(
      { spans: store, content: noContent, prices: [DEFAULT_PRICES], now: new Date() },
      { tenantId: 'tnt_bench', agentId: 'agt_bench' },
      thousand,
    );
    if (ing.accepted !== 1000) throw new Error(`expected 1000 spans, stored ${ing.accepted}`);
    const deps = {
      spans: store,
      actions: { getAction: async () => null, getApproval: async () => null },
      audit: { eventsForTrace: async () => ({ items: [], complete: true }) },
    };
    const rawQuery = async () => {
      let start: Record<string, unknown> | undefined;
      let n = 0;
      do {
        const r = await client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': `T#tnt_bench#TRACE#${traceId}` },
            ExclusiveStartKey: start,
          }),
        );
        n += r.Items?.length ?? 0;
        start = r.LastEvaluatedKey;
      } while (start);
      return n;
    };
    const view = async () => (await getTrace(deps, { tenantId: 'tnt_bench' }, traceId)).spans.length;
    for (let w = 0; w < 3; w++) {
      await rawQuery();
      await view();
    }
    const rawMs: number[] = [];
    const viewMs: number[] = [];
    const N = 20;
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      if ((await rawQuery()) !== 1000) throw new Error('raw query lost spans');
      rawMs.push(performance.now() - t);
      t = performance.now();
      if ((await view()) !== 1000) throw new Error('trace view lost spans');
      viewMs.push(performance.now() - t);
    }
    return [
      {
        name: 'GET /v1/traces/{id} core p99, 1,000-span trace (DynamoDB on moto)',
        unit: 'ms',
        value: round(pct(viewMs, 99)),
        baseline: round(pct(rawMs, 99)),
        params: {
          spans: 1000,
          samples: N,
          p50_ms: round(pct(viewMs, 50)),
          raw_p50_ms: round(pct(rawMs, 50)),
          baseline: 'paginated Query of the same partition',
          target_ratio: '<= 2',
        },
      },
    ];
  } finally {
    await moto.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  return [...(await ingestBench()), ...(await traceBench())];
}
