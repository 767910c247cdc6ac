/**
 * OTLP/HTTP request decoding (protobuf and JSON) into plain spans, log records and metric points.
 *
 * The protobuf schema is a protobufjs JSON descriptor of the subset of opentelemetry-proto ARX
 * decodes, written from the field numbers of opentelemetry-proto **v1.5.0**
 * (`opentelemetry/proto/{common,resource,trace,logs,metrics}/v1/*.proto` and the collector
 * `*_service.proto` request/response messages). No `.proto` file is vendored; unknown fields
 * (newer additions) are skipped by the decoder, as protobuf requires.
 */
import protobuf from 'protobufjs';
import { decodeTraceRequestWire, type WireResourceSpans } from './otlp-wire.js';

/** opentelemetry-proto release the descriptor below follows. */
export const OTLP_PROTO_VERSION = 'v1.5.0';

const kv = { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } };
const scope = {
  fields: {
    name: { type: 'string', id: 1 },
    version: { type: 'string', id: 2 },
    attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
    droppedAttributesCount: { type: 'uint32', id: 4 },
  },
};
const resource = {
  fields: {
    attributes: { rule: 'repeated', type: 'KeyValue', id: 1 },
    droppedAttributesCount: { type: 'uint32', id: 2 },
  },
};
const numberPoint = {
  oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
  fields: {
    attributes: { rule: 'repeated', type: 'KeyValue', id: 7 },
    startTimeUnixNano: { type: 'fixed64', id: 2 },
    timeUnixNano: { type: 'fixed64', id: 3 },
    asDouble: { type: 'double', id: 4 },
    asInt: { type: 'sfixed64', id: 6 },
  },
};
/** Histogram-like points: ARX keeps the count, sum and time only. */
const histPoint = {
  fields: {
    attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
    timeUnixNano: { type: 'fixed64', id: 3 },
    count: { type: 'fixed64', id: 4 },
    sum: { type: 'double', id: 5 },
  },
};
const expHistPoint = {
  fields: {
    attributes: { rule: 'repeated', type: 'KeyValue', id: 1 },
    timeUnixNano: { type: 'fixed64', id: 3 },
    count: { type: 'fixed64', id: 4 },
    sum: { type: 'double', id: 5 },
  },
};
const summaryPoint = {
  fields: {
    attributes: { rule: 'repeated', type: 'KeyValue', id: 7 },
    timeUnixNano: { type: 'fixed64', id: 3 },
    count: { type: 'fixed64', id: 4 },
    sum: { type: 'double', id: 5 },
  },
};

const DESCRIPTOR = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: {
            value: {
              oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'],
            },
          },
          fields: {
            stringValue: { type: 'string', id: 1 },
            boolValue: { type: 'bool', id: 2 },
            intValue: { type: 'int64', id: 3 },
            doubleValue: { type: 'double', id: 4 },
            arrayValue: { type: 'ArrayValue', id: 5 },
            kvlistValue: { type: 'KeyValueList', id: 6 },
            bytesValue: { type: 'bytes', id: 7 },
          },
        },
        ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
        KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
        KeyValue: kv,
        InstrumentationScope: scope,
        Resource: resource,
        // ---- trace
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ResourceSpans: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        ScopeSpans: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            spans: { rule: 'repeated', type: 'Span', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            traceState: { type: 'string', id: 3 },
            parentSpanId: { type: 'bytes', id: 4 },
            flags: { type: 'fixed32', id: 16 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            startTimeUnixNano: { type: 'fixed64', id: 7 },
            endTimeUnixNano: { type: 'fixed64', id: 8 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
            droppedAttributesCount: { type: 'uint32', id: 10 },
            events: { rule: 'repeated', type: 'SpanEvent', id: 11 },
            droppedEventsCount: { type: 'uint32', id: 12 },
            links: { rule: 'repeated', type: 'SpanLink', id: 13 },
            droppedLinksCount: { type: 'uint32', id: 14 },
            status: { type: 'Status', id: 15 },
          },
        },
        SpanEvent: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            name: { type: 'string', id: 2 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
            droppedAttributesCount: { type: 'uint32', id: 4 },
          },
        },
        SpanLink: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            traceState: { type: 'string', id: 3 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 4 },
            flags: { type: 'fixed32', id: 6 },
          },
        },
        Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
        ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
        ExportTracePartialSuccess: {
          fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
        // ---- logs
        ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } } },
        ResourceLogs: {
          fields: { resource: { type: 'Resource', id: 1 }, scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 } },
        },
        ScopeLogs: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
          },
        },
        LogRecord: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            observedTimeUnixNano: { type: 'fixed64', id: 11 },
            severityNumber: { type: 'int32', id: 2 },
            severityText: { type: 'string', id: 3 },
            body: { type: 'AnyValue', id: 5 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 6 },
            flags: { type: 'fixed32', id: 8 },
            traceId: { type: 'bytes', id: 9 },
            spanId: { type: 'bytes', id: 10 },
            eventName: { type: 'string', id: 12 },
          },
        },
        ExportLogsServiceResponse: { fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } } },
        ExportLogsPartialSuccess: {
          fields: { rejectedLogRecords: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
        // ---- metrics
        ExportMetricsServiceRequest: {
          fields: { resourceMetrics: { rule: 'repeated', type: 'ResourceMetrics', id: 1 } },
        },
        ResourceMetrics: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeMetrics: { rule: 'repeated', type: 'ScopeMetrics', id: 2 },
          },
        },
        ScopeMetrics: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            metrics: { rule: 'repeated', type: 'Metric', id: 2 },
          },
        },
        Metric: {
          oneofs: { data: { oneof: ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] } },
          fields: {
            name: { type: 'string', id: 1 },
            description: { type: 'string', id: 2 },
            unit: { type: 'string', id: 3 },
            gauge: { type: 'Gauge', id: 5 },
            sum: { type: 'Sum', id: 7 },
            histogram: { type: 'Histogram', id: 9 },
            exponentialHistogram: { type: 'ExponentialHistogram', id: 10 },
            summary: { type: 'Summary', id: 11 },
          },
        },
        Gauge: { fields: { dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 } } },
        Sum: {
          fields: {
            dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 },
            aggregationTemporality: { type: 'int32', id: 2 },
            isMonotonic: { type: 'bool', id: 3 },
          },
        },
        Histogram: {
          fields: {
            dataPoints: { rule: 'repeated', type: 'HistogramDataPoint', id: 1 },
            aggregationTemporality: { type: 'int32', id: 2 },
          },
        },
        ExponentialHistogram: {
          fields: {
            dataPoints: { rule: 'repeated', type: 'ExponentialHistogramDataPoint', id: 1 },
            aggregationTemporality: { type: 'int32', id: 2 },
          },
        },
        Summary: { fields: { dataPoints: { rule: 'repeated', type: 'SummaryDataPoint', id: 1 } } },
        NumberDataPoint: numberPoint,
        HistogramDataPoint: histPoint,
        ExponentialHistogramDataPoint: expHistPoint,
        SummaryDataPoint: summaryPoint,
        ExportMetricsServiceResponse: { fields: { partialSuccess: { type: 'ExportMetricsPartialSuccess', id: 1 } } },
        ExportMetricsPartialSuccess: {
          fields: { rejectedDataPoints: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(DESCRIPTOR);
export const OtlpTypes = {
  traceRequest: root.lookupType('otlp.ExportTraceServiceRequest'),
  traceResponse: root.lookupType('otlp.ExportTraceServiceResponse'),
  logsRequest: root.lookupType('otlp.ExportLogsServiceRequest'),
  logsResponse: root.lookupType('otlp.ExportLogsServiceResponse'),
  metricsRequest: root.lookupType('otlp.ExportMetricsServiceRequest'),
  metricsResponse: root.lookupType('otlp.ExportMetricsServiceResponse'),
};

export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

/** One decoded span (ids lowercase hex, times as decimal nanosecond strings). */
export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly kind: number;
  readonly startNs: string;
  readonly endNs: string;
  readonly attributes: Attributes;
  readonly events: readonly { readonly timeNs: string; readonly name: string; readonly attributes: Attributes }[];
  readonly status: { readonly code: number; readonly message: string };
  readonly resource: Attributes;
  readonly scope: { readonly name: string; readonly version: string };
}

export interface OtlpLogRecord {
  readonly timeNs: string;
  readonly severity: number;
  readonly severityText: string;
  readonly eventName: string;
  readonly traceId: string | null;
  readonly spanId: string | null;
  readonly body: AttrValue;
  readonly attributes: Attributes;
  readonly resource: Attributes;
}

export interface OtlpMetricPoint {
  readonly name: string;
  readonly unit: string;
  readonly kind: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary' | 'none';
  readonly timeNs: string;
  /** Gauge/sum value, or histogram/summary sum. */
  readonly value: number | null;
  readonly count: number | null;
  readonly attributes: Attributes;
  readonly resource: Attributes;
}

/** The request could not be decoded at all (400). */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}

export type Encoding = 'protobuf' | 'json';

// ------------------------------------------------------------------ value helpers
const HEX = /^[0-9a-f]*$/;
const toHex = (v: unknown, json: boolean): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    // OTLP/JSON carries ids as hex (spec); accept base64 (proto3 JSON mapping) as well.
    const s = v.toLowerCase();
    if (json && HEX.test(s)) return s;
    return Buffer.from(v, 'base64').toString('hex');
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (Array.isArray(v)) return Buffer.from(v as number[]).toString('hex'); // protobufjs default for absent bytes
  throw new OtlpDecodeError('an id is neither bytes nor a string');
};
const nanos = (v: unknown): string => {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'string') {
    if (!/^\d+$/.test(v)) throw new OtlpDecodeError('a time is not an unsigned integer');
    return v.replace(/^0+(?=\d)/, '');
  }
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? BigInt(Math.trunc(v)).toString() : '0';
  return longToString(v);
};
/** protobufjs decodes (s)fixed64 as Long {low, high}: its decimal string without Long's slow division. */
function longToString(v: unknown): string {
  const l = v as { low?: unknown; high?: unknown; unsigned?: boolean };
  if (typeof l?.low !== 'number' || typeof l.high !== 'number') return String(v);
  const lo = l.low >>> 0;
  const hi = l.high >>> 0;
  if (hi < 0x200000) return String(hi * 4294967296 + lo); // below 2^53: exact as a double
  if (!l.unsigned && l.high < 0) return String(v); // negative sfixed64: rare, let Long format it
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}
const int64 = (v: unknown): number | string => {
  if (typeof v === 'number') return v;
  const l = v as { low?: unknown; high?: unknown };
  // a Long that fits a safe integer (the usual token count): no string round trip
  if (typeof l?.low === 'number' && typeof l.high === 'number' && (l.high === 0 || l.high === -1)) {
    const n = l.high === 0 ? l.low >>> 0 : l.low | 0;
    if (l.high === 0 || n < 0) return n;
  }
  const s = String(v);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
};

const ANY_FIELDS = new Set([
  'stringValue',
  'boolValue',
  'intValue',
  'doubleValue',
  'arrayValue',
  'kvlistValue',
  'bytesValue',
]);

function anyValue(v: unknown): AttrValue {
  if (!v || typeof v !== 'object') return null;
  const a = v as Record<string, unknown>;
  // protobuf: the oneof discriminator names the field that is set (others hold defaults)
  if (typeof a.value === 'string' && ANY_FIELDS.has(a.value)) {
    const x = a[a.value];
    switch (a.value) {
      case 'stringValue':
        return x === undefined || x === null ? null : String(x);
      case 'boolValue':
        return x === undefined || x === null ? null : Boolean(x);
      case 'intValue':
        return x === undefined || x === null ? null : int64(x);
      case 'doubleValue':
        return x === undefined || x === null ? null : Number(x);
      default:
        return anyValue({ [a.value]: x });
    }
  }
  if (a.stringValue !== undefined && a.stringValue !== null) return String(a.stringValue);
  if (a.boolValue !== undefined && a.boolValue !== null) return Boolean(a.boolValue);
  if (a.intValue !== undefined && a.intValue !== null) return int64(a.intValue);
  if (a.doubleValue !== undefined && a.doubleValue !== null) return Number(a.doubleValue);
  if (a.arrayValue) return (((a.arrayValue as { values?: unknown[] }).values ?? []) as unknown[]).map(anyValue);
  if (a.kvlistValue) return attributes((a.kvlistValue as { values?: unknown[] }).values) as { [k: string]: AttrValue };
  if (a.bytesValue !== undefined && a.bytesValue !== null) {
    return a.bytesValue instanceof Uint8Array ? Buffer.from(a.bytesValue).toString('base64') : String(a.bytesValue);
  }
  return null;
}

function attributes(list: unknown): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const e of list as { key?: unknown; value?: unknown }[]) {
    if (!e || typeof e.key !== 'string') continue;
    out[e.key] = anyValue(e.value);
  }
  return out;
}

const asArray = (v: unknown, what: string): unknown[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${what} is not an array`);
  return v;
};

function parse(type: protobuf.Type, body: Uint8Array, encoding: Encoding): Record<string, unknown> {
  if (encoding === 'protobuf') {
    try {
      return type.decode(body) as unknown as Record<string, unknown>;
    } catch (e) {
      throw new OtlpDecodeError(`protobuf body does not decode as ${type.name}: ${(e as Error).message}`);
    }
  }
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new OtlpDecodeError('JSON body does not parse');
  }
  if (!j || typeof j !== 'object' || Array.isArray(j))
    throw new OtlpDecodeError(`JSON body is not an ${type.name} object`);
  return j as Record<string, unknown>;
}

const NO_EVENTS: OtlpSpan['events'] = Object.freeze([]) as unknown as OtlpSpan['events'];
function eventsOf(list: unknown): OtlpSpan['events'] {
  const evs = asArray(list, 'events') as Record<string, unknown>[];
  if (evs.length === 0) return NO_EVENTS;
  return evs.map((e) => ({
    timeNs: nanos(e?.timeUnixNano),
    name: typeof e?.name === 'string' ? e.name : '',
    attributes: attributes(e?.attributes),
  }));
}

// ------------------------------------------------------------------ requests
/**
 * Decodes an ExportTraceServiceRequest. Throws OtlpDecodeError when the body is not one; spans
 * with malformed ids are returned in `invalid` (counted as rejected, never stored).
 */
export function decodeTraces(body: Uint8Array, encoding: Encoding): { spans: OtlpSpan[]; invalid: number } {
  if (encoding === 'protobuf') return decodeTracesWire(body);
  return tracesFromMessage(parse(OtlpTypes.traceRequest, body, encoding), true);
}

/** The same request decoded by protobufjs (the reference the wire decoder is tested against). */
export function decodeTracesReference(body: Uint8Array): { spans: OtlpSpan[]; invalid: number } {
  return tracesFromMessage(parse(OtlpTypes.traceRequest, body, 'protobuf'), false);
}

function tracesFromMessage(msg: Record<string, unknown>, json: boolean): { spans: OtlpSpan[]; invalid: number } {
  const spans: OtlpSpan[] = [];
  let invalid = 0;
  for (const rs of asArray(msg.resourceSpans, 'resourceSpans') as Record<string, unknown>[]) {
    const res = attributes((rs?.resource as { attributes?: unknown } | undefined)?.attributes);
    for (const ss of asArray(rs?.scopeSpans, 'scopeSpans') as Record<string, unknown>[]) {
      const sc0 = (ss?.scope ?? {}) as { name?: string; version?: string };
      const sc = { name: sc0.name ?? '', version: sc0.version ?? '' }; // one object for the scope's spans
      for (const s of asArray(ss?.spans, 'spans') as Record<string, unknown>[]) {
        let traceId: string, spanId: string, parent: string;
        try {
          traceId = toHex(s.traceId, json);
          spanId = toHex(s.spanId, json);
          parent = toHex(s.parentSpanId, json);
        } catch {
          invalid++;
          continue;
        }
        if (
          traceId.length !== 32 ||
          /^0+$/.test(traceId) ||
          spanId.length !== 16 ||
          /^0+$/.test(spanId) ||
          (parent !== '' && parent.length !== 16)
        ) {
          invalid++;
          continue;
        }
        const st = (s.status ?? {}) as { code?: unknown; message?: unknown };
        spans.push({
          traceId,
          spanId,
          parentSpanId: parent === '' || /^0+$/.test(parent) ? null : parent,
          name: typeof s.name === 'string' ? s.name : '',
          kind: Number(s.kind ?? 0) || 0,
          startNs: nanos(s.startTimeUnixNano),
          endNs: nanos(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: eventsOf(s.events),
          status: { code: Number(st.code ?? 0) || 0, message: typeof st.message === 'string' ? st.message : '' },
          resource: res,
          scope: sc,
        });
      }
    }
  }
  return { spans, invalid };
}

const ZERO = /^0+$/;
const hexOf = (b: Uint8Array | null): string =>
  b === null ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The protobuf path: the wire decoder (otlp-wire.ts) straight into spans, the same checks as below. */
function decodeTracesWire(body: Uint8Array): { spans: OtlpSpan[]; invalid: number } {
  let request: WireResourceSpans[];
  try {
    request = decodeTraceRequestWire(body);
  } catch (e) {
    throw new OtlpDecodeError(`protobuf body does not decode as ExportTraceServiceRequest: ${(e as Error).message}`);
  }
  const spans: OtlpSpan[] = [];
  let invalid = 0;
  for (const rs of request) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const traceId = hexOf(s.traceId);
        const spanId = hexOf(s.spanId);
        const parent = hexOf(s.parentSpanId);
        if (
          traceId.length !== 32 ||
          ZERO.test(traceId) ||
          spanId.length !== 16 ||
          ZERO.test(spanId) ||
          (parent !== '' && parent.length !== 16)
        ) {
          invalid++;
          continue;
        }
        spans.push({
          traceId,
          spanId,
          parentSpanId: parent === '' || ZERO.test(parent) ? null : parent,
          name: s.name,
          kind: s.kind || 0,
          startNs: s.startNs,
          endNs: s.endNs,
          attributes: s.attributes,
          events: s.events ?? NO_EVENTS,
          status: { code: s.statusCode || 0, message: s.statusMessage },
          resource: rs.resource,
          scope: ss.scope,
        });
      }
    }
  }
  return { spans, invalid };
}

export function decodeLogs(body: Uint8Array, encoding: Encoding): OtlpLogRecord[] {
  const json = encoding === 'json';
  const msg = parse(OtlpTypes.logsRequest, body, encoding);
  const out: OtlpLogRecord[] = [];
  for (const rl of asArray(msg.resourceLogs, 'resourceLogs') as Record<string, unknown>[]) {
    const res = attributes((rl?.resource as { attributes?: unknown } | undefined)?.attributes);
    for (const sl of asArray(rl?.scopeLogs, 'scopeLogs') as Record<string, unknown>[]) {
      for (const r of asArray(sl?.logRecords, 'logRecords') as Record<string, unknown>[]) {
        const t = toHex(r.traceId, json);
        const s = toHex(r.spanId, json);
        out.push({
          timeNs: nanos(r.timeUnixNano ?? r.observedTimeUnixNano),
          severity: Number(r.severityNumber ?? 0) || 0,
          severityText: typeof r.severityText === 'string' ? r.severityText : '',
          eventName: typeof r.eventName === 'string' ? r.eventName : '',
          traceId: t.length === 32 ? t : null,
          spanId: s.length === 16 ? s : null,
          body: anyValue(r.body),
          attributes: attributes(r.attributes),
          resource: res,
        });
      }
    }
  }
  return out;
}

export function decodeMetrics(body: Uint8Array, encoding: Encoding): OtlpMetricPoint[] {
  const msg = parse(OtlpTypes.metricsRequest, body, encoding);
  const out: OtlpMetricPoint[] = [];
  const kinds = [
    ['gauge', 'gauge'],
    ['sum', 'sum'],
    ['histogram', 'histogram'],
    ['exponentialHistogram', 'exponential_histogram'],
    ['summary', 'summary'],
  ] as const;
  for (const rm of asArray(msg.resourceMetrics, 'resourceMetrics') as Record<string, unknown>[]) {
    const res = attributes((rm?.resource as { attributes?: unknown } | undefined)?.attributes);
    for (const sm of asArray(rm?.scopeMetrics, 'scopeMetrics') as Record<string, unknown>[]) {
      for (const m of asArray(sm?.metrics, 'metrics') as Record<string, unknown>[]) {
        const name = typeof m?.name === 'string' ? m.name : '';
        const unit = typeof m?.unit === 'string' ? m.unit : '';
        const k = kinds.find(([f]) => m?.[f]);
        if (!k) {
          out.push({ name, unit, kind: 'none', timeNs: '0', value: null, count: null, attributes: {}, resource: res });
          continue;
        }
        for (const p of asArray((m[k[0]] as { dataPoints?: unknown }).dataPoints, 'dataPoints') as Record<
          string,
          unknown
        >[]) {
          const v =
            typeof p.value === 'string' && (p.value === 'asDouble' || p.value === 'asInt')
              ? p[p.value]
              : (p.asDouble ?? p.asInt ?? p.sum);
          out.push({
            name,
            unit,
            kind: k[1],
            timeNs: nanos(p.timeUnixNano),
            value: v === undefined || v === null ? null : Number(v),
            count: p.count === undefined || p.count === null ? null : Number(p.count),
            attributes: attributes(p.attributes),
            resource: res,
          });
        }
      }
    }
  }
  return out;
}

/** Encodes an Export*ServiceResponse in the request's encoding (OTLP/HTTP §Success). */
export function encodeResponse(
  signal: 'traces' | 'logs' | 'metrics',
  encoding: Encoding,
  rejected: number,
  errorMessage: string,
): { body: string; base64: boolean; contentType: string } {
  const field = signal === 'traces' ? 'rejectedSpans' : signal === 'logs' ? 'rejectedLogRecords' : 'rejectedDataPoints';
  const partial = rejected > 0 || errorMessage ? { partialSuccess: { [field]: rejected, errorMessage } } : {};
  if (encoding === 'json') return { body: JSON.stringify(partial), base64: false, contentType: 'application/json' };
  const type =
    signal === 'traces'
      ? OtlpTypes.traceResponse
      : signal === 'logs'
        ? OtlpTypes.logsResponse
        : OtlpTypes.metricsResponse;
  const bytes = type.encode(type.fromObject(partial)).finish();
  return { body: Buffer.from(bytes).toString('base64'), base64: true, contentType: 'application/x-protobuf' };
}
