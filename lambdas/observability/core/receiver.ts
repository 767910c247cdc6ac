/**
 * OTLP/HTTP receiver rules: media types, gzip, size limits, pressure → 429/503 (OTLP/HTTP spec:
 * retryable with Retry-After). Pure; the handler wires it to the stores.
 */
import { gunzipSync } from 'node:zlib';
import {
  ArxError,
  DependencyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
  toProblem,
} from '../../shared/errors.js';
import type { Encoding } from './otlp.js';

/**
 * Largest OTLP request body as received (compressed), bytes. API Gateway HTTP APIs accept 10 MB,
 * but a synchronous Lambda invocation carries at most 6 MB and binary bodies arrive base64-encoded
 * (×4/3), so 4 MiB is what reliably reaches the function.
 */
export const OTLP_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Largest body after gzip decompression (bounds a decompression bomb). */
export const OTLP_MAX_DECODED_BYTES = 32 * 1024 * 1024;

export function encodingOf(headers: Readonly<Record<string, string>>): Encoding {
  const ct = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/x-protobuf' || ct === 'application/protobuf') return 'protobuf';
  if (ct === 'application/json') return 'json';
  throw new UnsupportedMediaTypeError('OTLP/HTTP takes application/x-protobuf or application/json');
}

/** The request body, gunzipped when `content-encoding: gzip`. */
export function bodyOf(headers: Readonly<Record<string, string>>, raw: Buffer): Buffer {
  const enc = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return raw;
  if (enc !== 'gzip')
    throw new UnsupportedMediaTypeError(`content-encoding ${enc} is not supported (gzip or identity)`);
  try {
    return gunzipSync(raw, { maxOutputLength: OTLP_MAX_DECODED_BYTES });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(`decompressed body exceeds ${OTLP_MAX_DECODED_BYTES} bytes`);
    }
    throw new ValidationError('gzip body does not decompress');
  }
}

/** The store is throttling: the exporter should retry after a pause (429 + Retry-After). */
export class ThrottledError extends ArxError {
  override readonly name = 'ThrottledError';
  readonly status = 429;
  readonly slug = 'throttled';
  readonly title = 'Too many requests';
}

const THROTTLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'SlowDown',
  'TooManyRequestsException',
]);
export const isThrottle = (e: unknown): boolean => THROTTLE.has((e as Error)?.name ?? '');

/** Seconds an exporter should wait before retrying under pressure. */
export const RETRY_AFTER_S = 2;

/**
 * Maps store throttling to 429 and an unavailable dependency to 503, both with Retry-After
 * (OTLP/HTTP: retryable, the exporter backs off); anything else is not pressure (null).
 */
export function pressureResponse(
  e: unknown,
): { status: number; body: unknown; headers: Record<string, string> } | null {
  const err = isThrottle(e)
    ? new ThrottledError('the span store is throttling; retry later')
    : e instanceof DependencyError
      ? e
      : null;
  if (!err) return null;
  return {
    status: err.status,
    body: toProblem(err),
    headers: { 'retry-after': String(RETRY_AFTER_S), 'content-type': 'application/problem+json' },
  };
}
