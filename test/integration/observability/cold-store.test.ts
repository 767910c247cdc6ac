import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { parquetMetadata } from 'hyparquet';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import { ROW_GROUP, S3ColdStore } from '../../../lambdas/observability/adapters/s3-cold-store.js';
import { getTrace, searchTraces } from '../../../lambdas/observability/core/traces.js';
import { COLD_SPAN_TAG } from '../../../lambdas/observability/topology.js';
import type { SpanRecord } from '../../../lambdas/observability/core/model.js';
import { createSingleTable } from '../../support/tables.js';

const bucket = `obs-cold-${randomBytes(4).toString('hex')}`;
const table = `obs-cold-${randomBytes(4).toString('hex')}`;
const s3 = new S3Client({ forcePathStyle: true });
const hex = (n: number) => randomBytes(n).toString('hex');

function span(trace: string, day: string, i: number, over: Partial<SpanRecord> = {}): SpanRecord {
  const start = Date.parse(`${day}T10:00:00Z`) + i * 1000;
  return {
    tenant_id: 't1',
    trace_id: trace,
    span_id: hex(8),
    parent_span_id: null,
    name: `chat ${i}`,
    kind: 3,
    start_ns: `${BigInt(start) * 1_000_000n}`,
    end_ns: `${BigInt(start + 500) * 1_000_000n}`,
    start_time: new Date(start).toISOString(),
    duration_ms: 500,
    source: 'otlp',
    agent_id: 'agt_a',
    operation: 'chat',
    provider: 'openai',
    model: 'gpt-4o',
    tool_name: null,
    usage: { input: 100, output: 10 },
    cost_usd: 0.001,
    priced_as: 'openai/gpt-4o',
    status: { code: 0, message: '' },
    attributes: { 'gen_ai.operation.name': 'chat' },
    events: [],
    resource: { 'service.name': 'agent' },
    scope: { name: 'agent', version: '1' },
    content_ref: null,
    ingested_at: `${day}T10:00:00Z`,
    ...over,
  };
}

/** The cold store on moto S3: Parquet per tenant/day/batch, a trace-id index, reads that never scan. */
describe('S3ColdStore (Parquet on moto S3)', () => {
  const traces = Array.from({ length: 400 }, () => hex(16));
  const target = traces[123]!;
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await createSingleTable(table);
    const cold = new S3ColdStore(bucket, s3);
    // batch 1: 400 traces × 6 spans over two days (4,800 rows, several row groups per file)
    const b1 = traces.flatMap((t, k) =>
      Array.from({ length: 6 }, (_, i) =>
        span(t, i < 3 ? '2026-06-01' : '2026-06-02', k * 6 + i, k % 2 ? { agent_id: 'agt_b' } : {}),
      ),
    );
    await cold.putBatch('t1', 'req-1', b1);
    // batch 2: ARX's own spans for the target trace (an approval), and the target's agent span again (a retry)
    await cold.putBatch('t1', 'arx-evt-1', [
      span(target, '2026-06-02', 9000, {
        source: 'arx',
        name: 'arx.decision',
        operation: null,
        model: null,
        cost_usd: null,
        tool_name: 'okta:users:deactivate',
        attributes: {
          'arx.action.id': 'act_1',
          'arx.decision': 'permit',
          'arx.risk': 'high',
          'arx.approval.mode': 'hitl',
          'arx.approval.id': 'apr_1',
        },
      }),
    ]);
    // another tenant's spans with the same trace id stay apart
    await cold.putBatch('t2', 'req-9', [span(target, '2026-06-02', 1)]);
  }, 120_000);

  it('writes real Parquet partitioned by tenant and day, sorted by trace id with whole-id row-group statistics', async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tenants/t1/traces/cold/' }));
    expect(listed.Contents!.map((o) => o.Key).sort()).toEqual([
      'tenants/t1/traces/cold/day=2026-06-01/req-1.parquet',
      'tenants/t1/traces/cold/day=2026-06-02/arx-evt-1.parquet',
      'tenants/t1/traces/cold/day=2026-06-02/req-1.parquet',
    ]);
    const bytes = await (
      await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: 'tenants/t1/traces/cold/day=2026-06-01/req-1.parquet' }),
      )
    ).Body!.transformToByteArray();
    const meta = parquetMetadata(bytes.slice().buffer);
    expect(Number(meta.num_rows)).toBe(1200);
    expect(meta.row_groups.length).toBe(Math.ceil(1200 / ROW_GROUP));
    const col = meta.row_groups[0]!.columns[0]!.meta_data!;
    expect(col.path_in_schema).toEqual(['trace_id']);
    expect(String(col.statistics!.min_value)).toHaveLength(32);
    expect(
      String(col.statistics!.max_value) <= String(meta.row_groups[1]!.columns[0]!.meta_data!.statistics!.min_value),
    ).toBe(true);
    const index = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `tenants/t1/traces/index/${target.slice(0, 2)}/${target}/` }),
    );
    expect(index.Contents!.map((o) => o.Key!.split('/').at(-1)).sort()).toEqual([
      '2026-06-01~req-1',
      '2026-06-02~arx-evt-1',
      '2026-06-02~req-1',
    ]);
  });

  it('tags every cold file and index entry for the bucket lifecycle rule that moves and expires cold copies', async () => {
    const keys = [
      'tenants/t1/traces/cold/day=2026-06-01/req-1.parquet',
      'tenants/t2/traces/cold/day=2026-06-02/req-9.parquet',
      `tenants/t1/traces/index/${target.slice(0, 2)}/${target}/2026-06-02~arx-evt-1`,
    ];
    for (const Key of keys) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key }));
      expect(tags.TagSet, Key).toEqual([{ Key: COLD_SPAN_TAG.key, Value: COLD_SPAN_TAG.value }]);
    }
  });

  it('reads one trace through the index: one list and only the files that hold it, never another tenant', async () => {
    const cold = new S3ColdStore(bucket, s3);
    const spans = await cold.traceSpans('t1', target);
    expect(spans).toHaveLength(7);
    expect(new Set(spans.map((s) => s.trace_id))).toEqual(new Set([target]));
    expect(spans.every((s) => s.tenant_id === 't1')).toBe(true);
    expect(cold.stats.lists).toBe(1);
    expect(cold.stats.gets).toBeLessThanOrEqual(6); // 3 files: the tail (footer) and at most one row-group range each
    expect(await cold.traceSpans('t1', hex(16))).toEqual([]);
  });

  it('answers GET /v1/traces/{id} from the cold copy when the hot store has nothing, the decision included', async () => {
    const view = await getTrace(
      {
        spans: new DynamoSpanStore(table),
        actions: { getAction: async () => null, getApproval: async () => null },
        audit: { eventsForTrace: async () => ({ items: [], complete: true }) },
        cold: new S3ColdStore(bucket, s3),
      },
      { tenantId: 't1' },
      target,
    );
    expect(view.spans).toHaveLength(7);
    expect(view.partial).toBe(true);
    expect(view.missing).toEqual(expect.arrayContaining(['spans:hot_expired(cold_copy)', 'actions:act_1']));
    expect(view.decisions).toMatchObject([{ action_id: 'act_1', effect: 'permit', approval: 'hitl', risk: 'high' }]);
    expect(view.cost.usd).toBeCloseTo(0.006, 9);
  });

  it('searches expired days from their cold partitions (summary columns), filtered by agent', async () => {
    const cold = new S3ColdStore(bucket, s3);
    const deps = { spans: new DynamoSpanStore(table), cold, now: new Date('2026-12-01T00:00:00Z') };
    const all = await searchTraces(
      deps,
      { tenantId: 't1' },
      {
        from: '2026-06-02T00:00:00Z',
        to: '2026-06-02T23:59:59Z',
        limit: 500,
      },
    );
    expect(all.items).toHaveLength(400);
    const t = all.items.find((i) => i.trace_id === target)!;
    expect(t).toMatchObject({ span_count: 4, has_approval: true });
    const b = await searchTraces(
      deps,
      { tenantId: 't1' },
      {
        from: '2026-06-01T00:00:00Z',
        to: '2026-06-02T23:59:59Z',
        agent_id: 'agt_b',
        has_approval: false,
        limit: 500,
      },
    );
    expect(b.items).toHaveLength(200);
    expect(b.items.every((i) => (i.agent_ids as string[]).includes('agt_b'))).toBe(true);
    // a window of days with no partition reads nothing and finds nothing
    expect(
      (await searchTraces(deps, { tenantId: 't1' }, { from: '2026-05-01T00:00:00Z', to: '2026-05-02T00:00:00Z' }))
        .items,
    ).toEqual([]);
  });
});
