import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { s3Client } from '../../shared/aws.js';
import { COLD_SPAN_TAG, type SpanRecord } from '../core/model.js';
import type { ColdLookup, ColdSpanSummary } from '../core/traces.js';

/**
 * Cold span copies in the artifact bucket (SSE) as Parquet, partitioned by tenant and day:
 * `tenants/<t>/traces/cold/day=<yyyy-mm-dd>/<batch>.parquet`, one file per ingest batch and day,
 * rows sorted by trace id in row groups of {@link ROW_GROUP} with min/max statistics, so a reader
 * skips every row group that cannot hold the trace. Beside it a trace-id index of empty objects,
 * `tenants/<t>/traces/index/<trace[0..1]>/<trace>/<day>~<batch>`: a lookup lists one prefix and
 * reads only the files (and in them only the row groups) that hold the trace — never a scan.
 * Search over cold days reads the day partitions of its window, summary columns only (never `doc`).
 * Spans carry no prompt/completion content (that is in `traces/content/`, encrypted).
 * Files and index entries carry {@link COLD_SPAN_TAG}: the bucket's lifecycle rule moves them to a
 * colder class and expires them by it (retention: lib/observability.ts).
 */
export const ROW_GROUP = 1000;
const COLD_TAGGING = new URLSearchParams({ [COLD_SPAN_TAG.key]: COLD_SPAN_TAG.value }).toString();
/** The tail read first: the footer and, for most batches, the whole file in one request. */
const TAIL_BYTES = 256 * 1024;

/** The summary columns search reads; `doc` is the whole SpanRecord as JSON. */
const SUMMARY = [
  'trace_id',
  'span_id',
  'start_time',
  'agent_id',
  'source',
  'operation',
  'model',
  'tool_name',
  'cost_usd',
  'approval_id',
] as const;

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** One batch of one day as a Parquet file (exported for the bench and the tests). */
export function spansToParquet(records: readonly SpanRecord[]): ArrayBuffer {
  const rs = [...records].sort((a, b) =>
    a.trace_id < b.trace_id ? -1 : a.trace_id > b.trace_id ? 1 : a.start_ns.localeCompare(b.start_ns),
  );
  const col = (name: string, data: unknown[], type: 'STRING' | 'DOUBLE' | 'JSON', nullable = true) => ({
    name,
    data,
    type,
    nullable,
  });
  return parquetWriteBuffer({
    columnData: [
      col(
        'trace_id',
        rs.map((r) => r.trace_id),
        'STRING',
        false,
      ),
      col(
        'span_id',
        rs.map((r) => r.span_id),
        'STRING',
        false,
      ),
      col(
        'start_time',
        rs.map((r) => r.start_time),
        'STRING',
        false,
      ),
      col(
        'agent_id',
        rs.map((r) => r.agent_id),
        'STRING',
      ),
      col(
        'source',
        rs.map((r) => r.source),
        'STRING',
        false,
      ),
      col(
        'operation',
        rs.map((r) => r.operation),
        'STRING',
      ),
      col(
        'model',
        rs.map((r) => r.model),
        'STRING',
      ),
      col(
        'tool_name',
        rs.map((r) => r.tool_name),
        'STRING',
      ),
      col(
        'cost_usd',
        rs.map((r) => r.cost_usd),
        'DOUBLE',
      ),
      col(
        'approval_id',
        rs.map((r) => str(r.attributes['arx.approval.id'])),
        'STRING',
      ),
      col(
        'doc',
        rs.map((r) => JSON.stringify(r)),
        'STRING',
        false,
      ),
    ] as Parameters<typeof parquetWriteBuffer>[0]['columnData'],
    rowGroupSize: ROW_GROUP,
    // whole trace ids in the statistics, so row-group pruning on trace_id is exact
    statisticsTruncateLength: Number.POSITIVE_INFINITY,
    kvMetadata: [{ key: 'arx.cold.format', value: 'spans/1' }],
  });
}

export class S3ColdStore implements ColdLookup {
  /** Requests made by reads (tests and the bench check that a lookup stays small). */
  readonly stats = { gets: 0, lists: 0 };
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}

  private base(t: string) {
    return `tenants/${encodeURIComponent(t)}/traces`;
  }

  async putBatch(tenantId: string, batchId: string, records: readonly SpanRecord[]): Promise<void> {
    const byDay = new Map<string, SpanRecord[]>();
    for (const r of records) {
      const day = r.start_time.slice(0, 10);
      const list = byDay.get(day) ?? [];
      byDay.set(day, list);
      list.push(r);
    }
    const b = this.base(tenantId);
    const safe = batchId.replace(/[^\w-]/g, '');
    for (const [day, rs] of byDay) {
      // The file before its index entries: an index entry never points at a file that is not there.
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${b}/cold/day=${day}/${safe}.parquet`,
          Body: new Uint8Array(spansToParquet(rs)),
          ContentType: 'application/vnd.apache.parquet',
          Tagging: COLD_TAGGING,
        }),
      );
      const traces = [...new Set(rs.map((r) => r.trace_id))];
      for (let i = 0; i < traces.length; i += 16) {
        await Promise.all(
          traces.slice(i, i + 16).map((t) =>
            this.client.send(
              new PutObjectCommand({
                Bucket: this.bucket,
                Key: `${b}/index/${t.slice(0, 2)}/${t}/${day}~${safe}`,
                Body: '',
                Tagging: COLD_TAGGING,
              }),
            ),
          ),
        );
      }
    }
  }

  /** Range reads of one object: the tail first (footer, often the whole file), then what hyparquet asks for. */
  private async file(key: string): Promise<AsyncBuffer> {
    this.stats.gets++;
    const tail = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=-${TAIL_BYTES}` }),
    );
    const bytes = await tail.Body!.transformToByteArray();
    const total = Number(/\/(\d+)$/.exec(tail.ContentRange ?? '')?.[1] ?? bytes.length);
    const tailStart = total - bytes.length;
    return {
      byteLength: total,
      slice: async (start: number, end = total) => {
        if (start >= tailStart) return bytes.slice(start - tailStart, end - tailStart).buffer;
        this.stats.gets++;
        const r = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
        );
        return (await r.Body!.transformToByteArray()).slice().buffer;
      },
    };
  }

  private async listAll(prefix: string): Promise<_Object[]> {
    const out: _Object[] = [];
    let token: string | undefined;
    do {
      this.stats.lists++;
      const r = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      out.push(...(r.Contents ?? []));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async traceSpans(tenantId: string, traceId: string): Promise<SpanRecord[]> {
    const b = this.base(tenantId);
    const entries = await this.listAll(`${b}/index/${traceId.slice(0, 2)}/${traceId}/`);
    const out = new Map<string, SpanRecord>();
    for (const o of entries) {
      const [day, batch] = o.Key!.split('/').at(-1)!.split('~');
      const rows = await parquetReadObjects({
        file: await this.file(`${b}/cold/day=${day}/${batch}.parquet`),
        columns: ['trace_id', 'doc'],
        filter: { trace_id: { $eq: traceId } },
      });
      for (const row of rows) {
        const r = JSON.parse(String(row.doc)) as SpanRecord;
        out.set(r.span_id, r); // a span delivered twice (retried batch) is one span
      }
    }
    return [...out.values()];
  }

  /** Search over cold days: the day partitions of the window, summary columns, optionally one agent. */
  async searchDay(tenantId: string, day: string, agentId?: string): Promise<ColdSpanSummary[]> {
    const files = await this.listAll(`${this.base(tenantId)}/cold/day=${day}/`);
    const out: ColdSpanSummary[] = [];
    for (const f of files) {
      if (!f.Key!.endsWith('.parquet')) continue;
      const rows = await parquetReadObjects({
        file: await this.file(f.Key!),
        columns: [...SUMMARY],
        ...(agentId ? { filter: { agent_id: { $eq: agentId } } } : {}),
      });
      for (const row of rows) {
        out.push({
          trace_id: String(row.trace_id),
          span_id: String(row.span_id),
          start_time: String(row.start_time),
          agent_id: str(row.agent_id),
          source: row.source === 'arx' ? 'arx' : 'otlp',
          operation: str(row.operation),
          model: str(row.model),
          tool_name: str(row.tool_name),
          cost_usd: typeof row.cost_usd === 'number' ? row.cost_usd : null,
          approval_id: str(row.approval_id),
        });
      }
    }
    return out;
  }
}
