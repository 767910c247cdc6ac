/**
 * Forwarding ARX's own spans to the customer's OTLP/HTTP endpoint (Langfuse, Phoenix, Jaeger,
 * Datadog …): the agent's trace there shows decision → approval → execution with the approval
 * metadata as attributes. Retries with backoff inside one delivery; when they are exhausted the
 * caller throws, so the bus redelivers and the consumer's dead-letter queue keeps the event.
 */
import { OtlpTypes, type AttrValue, type Attributes } from './otlp.js';
import type { SpanRecord } from './model.js';

/** AAD of the encrypted export headers (tenant|export). */
export const EXPORT_AAD = 'observability-export';

export interface ExportConfig {
  readonly endpoint: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly headers: Record<string, string>;
}

export class ExportFailedError extends Error {
  override readonly name = 'ExportFailedError';
}

function anyValue(v: AttrValue): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (v && typeof v === 'object') return { kvlistValue: { values: kvs(v) } };
  return {};
}
const kvs = (a: Attributes) => Object.entries(a).map(([key, value]) => ({ key, value: anyValue(value) }));

/** The spans as an ExportTraceServiceRequest body in the configured protocol. */
export function encodeSpans(
  spans: readonly SpanRecord[],
  protocol: ExportConfig['protocol'],
): { body: Uint8Array | string; contentType: string } {
  const json = protocol === 'http/json';
  const id = (hex: string | null) => (hex ? (json ? hex : Buffer.from(hex, 'hex')) : json ? '' : Buffer.alloc(0));
  const req = {
    resourceSpans: [
      {
        resource: { attributes: kvs(spans[0]?.resource ?? { 'service.name': 'arx' }) },
        scopeSpans: [
          {
            scope: { name: 'arx', version: '1' },
            spans: spans.map((s) => ({
              traceId: id(s.trace_id),
              spanId: id(s.span_id),
              ...(s.parent_span_id ? { parentSpanId: id(s.parent_span_id) } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.start_ns,
              endTimeUnixNano: s.end_ns,
              attributes: kvs(s.attributes),
              status: { code: s.status.code, ...(s.status.message ? { message: s.status.message } : {}) },
            })),
          },
        ],
      },
    ],
  };
  if (json) return { body: JSON.stringify(req), contentType: 'application/json' };
  return {
    body: OtlpTypes.traceRequest.encode(OtlpTypes.traceRequest.fromObject(req)).finish(),
    contentType: 'application/x-protobuf',
  };
}

/** Retryable per OTLP/HTTP: 429, 502, 503, 504 and network errors; other 4xx are permanent. */
const retryable = (status: number) =>
  status === 429 || status === 502 || status === 503 || status === 504 || status >= 500;

/**
 * POSTs the spans, retrying retryable failures `attempts` times with exponential backoff.
 * Throws ExportFailedError when the endpoint never accepted them. In production `fetch` is the
 * F22 guarded fetch (lambdas/shared/outbound.ts): non-public addresses after DNS resolution at send
 * time and redirects are refused, and never retried.
 */
export async function exportSpans(
  cfg: ExportConfig,
  spans: readonly SpanRecord[],
  opts: { fetch?: typeof fetch; attempts?: number; backoffMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<{ attempts: number }> {
  if (!spans.length) return { attempts: 0 };
  const { body, contentType } = encodeSpans(spans, cfg.protocol);
  const f = opts.fetch ?? fetch;
  const max = opts.attempts ?? 3;
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  let last = '';
  for (let i = 1; i <= max; i++) {
    try {
      const res = await f(cfg.endpoint, {
        method: 'POST',
        headers: { ...cfg.headers, 'content-type': contentType },
        body: body as string,
        redirect: 'error',
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { attempts: i };
      last = `HTTP ${res.status}`;
      if (!retryable(res.status)) break;
    } catch (e) {
      last = (e as Error).name;
      // F22: a target the outbound guard refuses (non-public address, redirect) is not retried
      if (last === 'OutboundRefusedError') {
        last = `${last}: ${(e as Error).message}`;
        break;
      }
    }
    if (i < max) await sleep((opts.backoffMs ?? 200) * 2 ** (i - 1));
  }
  throw new ExportFailedError(`OTLP export to the customer endpoint failed: ${last}`);
}
