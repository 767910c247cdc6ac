import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import type { SpanRecord } from '../core/model.js';

/**
 * Cold span copies in the artifact bucket (SSE), partitioned by tenant and day, as JSON Lines
 * (no Parquet writer is installed): `tenants/<t>/traces/cold/day=<yyyy-mm-dd>/<batch>.jsonl`,
 * plus a trace-id index `tenants/<t>/traces/index/<trace[0..1]>/<trace>/<day>~<batch>` so a
 * lookup lists one prefix and reads only the batches holding the trace — never a scan.
 * Spans carry no prompt/completion content (that is in `traces/content/`, encrypted).
 */
export class S3ColdStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}

  private base(t: string) {
    return `tenants/${encodeURIComponent(t)}/traces`;
  }

  async putBatch(tenantId: string, batchId: string, records: readonly SpanRecord[]): Promise<void> {
    const byDay = new Map<string, SpanRecord[]>();
    for (const r of records) byDay.set(r.start_time.slice(0, 10), [...(byDay.get(r.start_time.slice(0, 10)) ?? []), r]);
    const b = this.base(tenantId);
    const safe = batchId.replace(/[^\w-]/g, '');
    for (const [day, rs] of byDay) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${b}/cold/day=${day}/${safe}.jsonl`,
          Body: `${rs.map((r) => JSON.stringify(r)).join('\n')}\n`,
          ContentType: 'application/x-ndjson',
        }),
      );
      const traces = new Set(rs.map((r) => r.trace_id));
      await Promise.all(
        [...traces].map((t) =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: `${b}/index/${t.slice(0, 2)}/${t}/${day}~${safe}`,
              Body: '',
            }),
          ),
        ),
      );
    }
  }

  async traceSpans(tenantId: string, traceId: string): Promise<SpanRecord[]> {
    const b = this.base(tenantId);
    const listed = await this.client.send(
      new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${b}/index/${traceId.slice(0, 2)}/${traceId}/` }),
    );
    const out: SpanRecord[] = [];
    for (const o of listed.Contents ?? []) {
      const [day, batch] = o.Key!.split('/').at(-1)!.split('~');
      const obj = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${b}/cold/day=${day}/${batch}.jsonl` }),
      );
      for (const line of (await obj.Body!.transformToString()).split('\n')) {
        if (!line) continue;
        const r = JSON.parse(line) as SpanRecord;
        if (r.trace_id === traceId) out.push(r);
      }
    }
    return out;
  }
}
