/**
 * A direct protobuf wire decoder for ExportTraceServiceRequest (opentelemetry-proto v1.5.0 field
 * numbers, the same subset as the protobufjs descriptor in otlp.ts). It reads the bytes straight
 * into ARX's span shape: no intermediate message objects, no Long objects for the fixed64 times,
 * ids hex-encoded from the buffer they arrive in, and one resource and scope object shared by
 * their spans — the receiver's hot path allocates what it keeps and little else. Unknown fields
 * and fields with an unexpected wire type are skipped, as protobuf requires.
 */
import protobuf from 'protobufjs';
import type { AttrValue, Attributes } from './otlp.js';

type Reader = protobuf.Reader;

/** The wire data does not parse (the caller answers 400). */
export class WireError extends Error {
  override readonly name = 'WireError';
}

export interface WireEvent {
  readonly timeNs: string;
  readonly name: string;
  readonly attributes: Attributes;
}
export interface WireSpan {
  traceId: Uint8Array | null;
  spanId: Uint8Array | null;
  parentSpanId: Uint8Array | null;
  name: string;
  kind: number;
  startNs: string;
  endNs: string;
  attributes: Attributes;
  events: WireEvent[] | null;
  statusCode: number;
  statusMessage: string;
}
export interface WireScopeSpans {
  readonly scope: { readonly name: string; readonly version: string };
  readonly spans: WireSpan[];
}
export interface WireResourceSpans {
  readonly resource: Attributes;
  readonly scopeSpans: WireScopeSpans[];
}

const MAX_DEPTH = 64;
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** Decimal string of an unsigned 64-bit value given as two 32-bit halves. */
export function u64String(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * 4294967296 + lo); // below 2^53: exact as a double
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function fixed64(r: Reader): string {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return u64String(lo, hi);
}

/** int64 varint as a number when safe, else its decimal string (as the protobufjs path returns). */
function int64(r: Reader): number | string {
  const l = r.int64() as unknown as { low: number; high: number } | number;
  if (typeof l === 'number') return l;
  if (l.high === 0) return l.low >>> 0;
  if (l.high === -1 && (l.low | 0) < 0) return l.low | 0;
  const s = String(l);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

function anyValue(r: Reader, end: number, depth: number): AttrValue {
  if (depth > MAX_DEPTH) throw new WireError('AnyValue nested too deeply');
  let v: AttrValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === LEN) v = r.string();
    else if (field === 2 && wt === VARINT) v = r.bool();
    else if (field === 3 && wt === VARINT) v = int64(r);
    else if (field === 4 && wt === I64) v = r.double();
    else if (field === 5 && wt === LEN) {
      const e = r.uint32() + r.pos;
      const out: AttrValue[] = [];
      while (r.pos < e) {
        const t = r.uint32();
        if (t >>> 3 === 1 && (t & 7) === LEN) out.push(anyValue(r, r.uint32() + r.pos, depth + 1));
        else r.skipType(t & 7);
      }
      v = out;
    } else if (field === 6 && wt === LEN) {
      const e = r.uint32() + r.pos;
      const out: Attributes = {};
      while (r.pos < e) {
        const t = r.uint32();
        if (t >>> 3 === 1 && (t & 7) === LEN) keyValue(r, r.uint32() + r.pos, out, depth + 1);
        else r.skipType(t & 7);
      }
      v = out;
    } else if (field === 7 && wt === LEN) v = Buffer.from(r.bytes()).toString('base64');
    else r.skipType(wt);
  }
  return v;
}

function keyValue(r: Reader, end: number, into: Attributes, depth: number): void {
  let key: string | null = null;
  let value: AttrValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) key = r.string();
    else if (tag === 0x12) value = anyValue(r, r.uint32() + r.pos, depth);
    else r.skipType(tag & 7);
  }
  if (key !== null) into[key] = value;
}

function resource(r: Reader, end: number): Attributes {
  const attrs: Attributes = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) keyValue(r, r.uint32() + r.pos, attrs, 0);
    else r.skipType(tag & 7);
  }
  return attrs;
}

function scope(r: Reader, end: number): { name: string; version: string } {
  let name = '';
  let version = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) name = r.string();
    else if (tag === 0x12) version = r.string();
    else r.skipType(tag & 7);
  }
  return { name, version };
}

function event(r: Reader, end: number): WireEvent {
  let timeNs = '0';
  let name = '';
  const attributes: Attributes = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x09) timeNs = fixed64(r);
    else if (tag === 0x12) name = r.string();
    else if (tag === 0x1a) keyValue(r, r.uint32() + r.pos, attributes, 0);
    else r.skipType(tag & 7);
  }
  return { timeNs, name, attributes };
}

function span(r: Reader, end: number): WireSpan {
  const s: WireSpan = {
    traceId: null,
    spanId: null,
    parentSpanId: null,
    name: '',
    kind: 0,
    startNs: '0',
    endNs: '0',
    attributes: {},
    events: null,
    statusCode: 0,
    statusMessage: '',
  };
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a: // 1 trace_id
        s.traceId = r.bytes();
        break;
      case 0x12: // 2 span_id
        s.spanId = r.bytes();
        break;
      case 0x22: // 4 parent_span_id
        s.parentSpanId = r.bytes();
        break;
      case 0x2a: // 5 name
        s.name = r.string();
        break;
      case 0x30: // 6 kind
        s.kind = r.int32();
        break;
      case 0x39: // 7 start_time_unix_nano
        s.startNs = fixed64(r);
        break;
      case 0x41: // 8 end_time_unix_nano
        s.endNs = fixed64(r);
        break;
      case 0x4a: // 9 attributes
        keyValue(r, r.uint32() + r.pos, s.attributes, 0);
        break;
      case 0x5a: // 11 events
        s.events ??= [];
        s.events.push(event(r, r.uint32() + r.pos));
        break;
      case 0x7a: {
        // 15 status { message = 2; code = 3 }
        const e = r.uint32() + r.pos;
        while (r.pos < e) {
          const t = r.uint32();
          if (t === 0x12) s.statusMessage = r.string();
          else if (t === 0x18) s.statusCode = r.int32();
          else r.skipType(t & 7);
        }
        break;
      }
      default:
        r.skipType(tag & 7);
    }
  }
  return s;
}

function scopeSpans(r: Reader, end: number): WireScopeSpans {
  let sc = { name: '', version: '' };
  const spans: WireSpan[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) sc = scope(r, r.uint32() + r.pos);
    else if (tag === 0x12) spans.push(span(r, r.uint32() + r.pos));
    else r.skipType(tag & 7);
  }
  return { scope: sc, spans };
}

function resourceSpans(r: Reader, end: number): WireResourceSpans {
  let res: Attributes = {};
  const out: WireScopeSpans[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) res = resource(r, r.uint32() + r.pos);
    else if (tag === 0x12) out.push(scopeSpans(r, r.uint32() + r.pos));
    else r.skipType(tag & 7);
  }
  return { resource: res, scopeSpans: out };
}

/** Decodes an ExportTraceServiceRequest body; throws WireError (or a reader RangeError) on bad data. */
export function decodeTraceRequestWire(body: Uint8Array): WireResourceSpans[] {
  const r = protobuf.Reader.create(body);
  const out: WireResourceSpans[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 0x0a) {
      const len = r.uint32();
      if (r.pos + len > r.len) throw new WireError('length beyond the end of the body');
      out.push(resourceSpans(r, r.pos + len));
    } else r.skipType(tag & 7);
  }
  if (r.pos !== r.len) throw new WireError('a field runs past the end of the body');
  return out;
}
