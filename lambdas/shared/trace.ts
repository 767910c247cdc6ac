import { randomBytes } from 'node:crypto';

/** W3C Trace Context (traceparent) helpers. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  traceId: string;
  spanId: string;
  traceparent: string;
  /** The caller's span (from its traceparent): ARX's spans for the request are its children. */
  parentSpanId?: string;
}

/** Continues the caller's trace when `traceparent` is valid, else starts a new one. */
export function traceFrom(traceparent: string | undefined): TraceContext {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  const traceId = m && m[1] !== '0'.repeat(32) ? m[1]! : randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const parent = m && m[1] !== '0'.repeat(32) && m[2] !== '0'.repeat(16) ? { parentSpanId: m[2]! } : {};
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, ...parent };
}
