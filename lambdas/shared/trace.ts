import { randomBytes } from 'node:crypto';

/** W3C Trace Context (traceparent) helpers. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  traceId: string;
  spanId: string;
  traceparent: string;
}

/** Continues the caller's trace when `traceparent` is valid, else starts a new one. */
export function traceFrom(traceparent: string | undefined): TraceContext {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  const traceId = m && m[1] !== '0'.repeat(32) ? m[1]! : randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}
