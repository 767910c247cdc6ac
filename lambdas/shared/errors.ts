/**
 * Typed faults mapped to RFC 9457 problem details. Only 4xx details reach a caller; anything
 * else becomes a generic 500 without internal detail.
 */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: readonly FieldError[];
  [extension: string]: unknown;
}

const PROBLEM_BASE = 'https://arx.dev/problems/';

export abstract class ArxError extends Error {
  abstract readonly status: number;
  abstract readonly slug: string;
  abstract readonly title: string;
  readonly extensions: Record<string, unknown>;
  constructor(detail: string, options?: { cause?: unknown; extensions?: Record<string, unknown> }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.extensions = options?.extensions ?? {};
  }
  toProblem(): ProblemDetails {
    return {
      type: PROBLEM_BASE + this.slug,
      title: this.title,
      status: this.status,
      detail: this.message,
      ...this.extensions,
    };
  }
}

export class ValidationError extends ArxError {
  override readonly name = 'ValidationError';
  readonly status = 400;
  readonly slug = 'validation';
  readonly title = 'Request validation failed';
  constructor(
    detail: string,
    readonly errors: readonly FieldError[] = [],
  ) {
    super(detail);
  }
  override toProblem(): ProblemDetails {
    return { ...super.toProblem(), errors: this.errors };
  }
}
export class UnauthorizedError extends ArxError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  readonly slug = 'unauthorized';
  readonly title = 'Authentication required';
}
export class ForbiddenError extends ArxError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
  readonly slug = 'forbidden';
  readonly title = 'Forbidden';
}
export class NotFoundError extends ArxError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  readonly slug = 'not-found';
  readonly title = 'Not found';
}
export class ConflictError extends ArxError {
  override readonly name = 'ConflictError';
  readonly status = 409;
  readonly slug = 'conflict';
  readonly title = 'Conflict';
}
export class PayloadTooLargeError extends ArxError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly slug = 'payload-too-large';
  readonly title = 'Payload too large';
}
export class UnsupportedMediaTypeError extends ArxError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  readonly slug = 'unsupported-media-type';
  readonly title = 'Unsupported media type';
}
export class UnprocessableError extends ArxError {
  override readonly name = 'UnprocessableError';
  readonly status = 422;
  readonly slug = 'unprocessable';
  readonly title = 'Unprocessable request';
}
/** A dependency (KMS, STS, a platform API) is unavailable; never carries internal detail. */
export class DependencyError extends ArxError {
  override readonly name = 'DependencyError';
  readonly status = 503;
  readonly slug = 'dependency-unavailable';
  readonly title = 'A dependency is unavailable';
}

export function isArxError(e: unknown): e is ArxError {
  return e instanceof ArxError;
}

/** Maps any thrown value to problem details: ArxErrors keep their 4xx detail, the rest are opaque. */
export function toProblem(e: unknown): ProblemDetails {
  if (isArxError(e)) {
    const p = e.toProblem();
    if (e.status >= 500) delete p.detail;
    return p;
  }
  return { type: `${PROBLEM_BASE}internal`, title: 'Internal error', status: 500 };
}
