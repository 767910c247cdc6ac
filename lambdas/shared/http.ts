import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ZodType } from 'zod';
import {
  ArxError,
  PayloadTooLargeError,
  UnauthorizedError,
  ForbiddenError,
  UnsupportedMediaTypeError,
  ValidationError,
  toProblem,
  type FieldError,
} from './errors.js';
import { logger, metrics, observed } from './observability.js';
import { traceFrom, type TraceContext } from './trace.js';
import { ROLES, routeKey, type Role, type RouteSpec } from './topology-types.js';

/** Largest request body accepted (bytes). Larger bodies get 413 and change nothing. */
export const MAX_BODY_BYTES = 256 * 1024;

/** The verified caller, as the Lambda authorizer put it in the request context. */
export interface AuthContext {
  readonly tenantId: string;
  /** OIDC subject of a human, or the SPIFFE id of an agent. */
  readonly subject: string;
  readonly roles: readonly Role[];
  readonly principalType: 'human' | 'agent';
  readonly agentId?: string;
  readonly spiffeId?: string;
  readonly email?: string;
  /** SVID scope (F19): absent when the token is not narrowed; checked by lambdas/identity/scope.ts. */
  readonly scope?: readonly string[];
}

export interface ApiRequest<B = unknown, Q = unknown> {
  readonly body: B;
  readonly query: Q;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
  /** The body as received (base64-decoded): what `bodyType: 'binary'` routes read. */
  readonly rawBytes: Buffer;
  readonly auth: AuthContext | null;
  readonly route: RouteSpec;
  readonly trace: TraceContext;
  readonly requestId: string;
}

export interface ApiResult {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Send `body` as-is (already a string) instead of JSON. */
  readonly raw?: boolean;
  /** With `raw`: `body` is base64 of binary content (API Gateway decodes it). */
  readonly base64?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: each route's operation narrows its own body and query types
export type Operation = (req: ApiRequest<any, any>) => Promise<ApiResult>;

/** Authorizer context values are strings; this is the wire shape. */
export interface AuthorizerContextWire {
  tenantId: string;
  subject: string;
  roles: string;
  principalType: 'human' | 'agent';
  agentId?: string;
  spiffeId?: string;
  email?: string;
  /** Space-delimited SVID scope (present only when the token is narrowed). */
  scope?: string;
}

export function encodeAuthContext(a: AuthContext): AuthorizerContextWire {
  return {
    tenantId: a.tenantId,
    subject: a.subject,
    roles: a.roles.join(','),
    principalType: a.principalType,
    ...(a.agentId ? { agentId: a.agentId } : {}),
    ...(a.spiffeId ? { spiffeId: a.spiffeId } : {}),
    ...(a.email ? { email: a.email } : {}),
    ...(a.scope ? { scope: a.scope.join(' ') } : {}),
  };
}

export function decodeAuthContext(wire: unknown): AuthContext | null {
  if (!wire || typeof wire !== 'object') return null;
  const w = wire as Partial<AuthorizerContextWire>;
  if (!w.tenantId || !w.subject || (w.principalType !== 'human' && w.principalType !== 'agent')) return null;
  const roles = String(w.roles ?? '')
    .split(',')
    .filter((r): r is Role => (ROLES as readonly string[]).includes(r));
  return {
    tenantId: w.tenantId,
    subject: w.subject,
    roles,
    principalType: w.principalType,
    ...(w.agentId ? { agentId: w.agentId } : {}),
    ...(w.spiffeId ? { spiffeId: w.spiffeId } : {}),
    ...(w.email ? { email: w.email } : {}),
    ...(typeof w.scope === 'string' ? { scope: w.scope.split(' ').filter(Boolean) } : {}),
  };
}

export function zodIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): FieldError[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/** Validates `value` against `schema` or throws a 400 ValidationError listing every issue. */
export function validate<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}`, zodIssues(r.error));
  return r.data;
}

/**
 * Longest path parameter accepted (UTF-8 bytes). Path parameters become DynamoDB keys (a sort key
 * holds at most 1024 bytes) and S3 keys; the longest legitimate one, an e-mail link token, is ~700.
 */
export const MAX_PATH_PARAM_BYTES = 1024;

/** Refuses (400) an empty path parameter (an empty DynamoDB key) or one longer than {@link MAX_PATH_PARAM_BYTES}. */
function assertPathParams(params: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(params)) {
    if (v === '') throw new ValidationError('invalid path parameter', [{ path: k, message: 'empty' }]);
    if (v !== undefined && Buffer.byteLength(v, 'utf8') > MAX_PATH_PARAM_BYTES) {
      throw new ValidationError('invalid path parameter', [
        { path: k, message: `longer than ${MAX_PATH_PARAM_BYTES} bytes` },
      ]);
    }
  }
}

/** Deepest nesting a JSON request body may have (DynamoDB refuses items nested deeper than 32 levels). */
export const MAX_JSON_DEPTH = 24;
/** Magnitudes DynamoDB can store (1E-130 … 9.99…E+125); a request number outside is refused at the edge. */
const DDB_NUMBER_MIN = 1e-130;
/** 9.9999999999999999999999999999999999999e125, the largest DynamoDB number, as the nearest double. */
const DDB_NUMBER_MAX = 1e126;

/** True when `s` has no lone UTF-16 surrogate (String.prototype.isWellFormed, linear, no regex). */
export function isWellFormedText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const n = s.charCodeAt(i + 1);
    if (!(n >= 0xdc00 && n <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/**
 * Refuses (400) request values every handler would otherwise trip over later: text with lone
 * surrogates (it cannot be URI-encoded, UTF-8 encoded or signed faithfully), numbers DynamoDB cannot
 * store, JSON nested deeper than {@link MAX_JSON_DEPTH}, and a `__proto__` key at any depth (zod
 * records drop it silently, copies turn it into a prototype: refused, never half-kept).
 * Iterative, so hostile depth cannot overflow the stack.
 */
export function assertPortableJson(value: unknown, what: string): void {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, path] = stack.pop()!;
    const at = path || '(root)';
    if (typeof v === 'string') {
      if (!isWellFormedText(v))
        throw new ValidationError(`invalid ${what}`, [
          { path: at, message: 'text is not well-formed Unicode (lone surrogate)' },
        ]);
    } else if (typeof v === 'number') {
      const m = Math.abs(v);
      if (m !== 0 && (m < DDB_NUMBER_MIN || m >= DDB_NUMBER_MAX))
        throw new ValidationError(`invalid ${what}`, [
          { path: at, message: 'number outside the storable range (1e-130 … 9.99e125 in magnitude)' },
        ]);
    } else if (v && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH)
        throw new ValidationError(`invalid ${what}`, [
          { path: at, message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
        ]);
      for (const [k, x] of Object.entries(v)) {
        // JSON.parse makes "__proto__" an own key; merge or copy code would turn it into a prototype.
        if (k === '__proto__')
          throw new ValidationError(`invalid ${what}`, [{ path: at, message: 'the key "__proto__" is not allowed' }]);
        if (!isWellFormedText(k))
          throw new ValidationError(`invalid ${what}`, [
            { path: at, message: 'a key is not well-formed Unicode (lone surrogate)' },
          ]);
        stack.push([x, depth + 1, path ? `${path}.${k}` : k]);
      }
    }
  }
}

function lowerHeaders(h: Record<string, string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

function parseBody(route: RouteSpec, headers: Record<string, string>, raw: string): unknown {
  const kind = route.bodyType ?? 'json';
  if (kind === 'raw') return raw;
  if (kind === 'binary') return undefined;
  if (!route.body) {
    if (raw.trim().length > 0) throw new ValidationError('this operation takes no request body');
    return undefined;
  }
  const ctype = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (kind === 'form') {
    if (ctype !== 'application/x-www-form-urlencoded') {
      throw new UnsupportedMediaTypeError('expected application/x-www-form-urlencoded');
    }
    const params = new URLSearchParams(raw);
    const obj: Record<string, string> = {};
    for (const [k, v] of params) {
      if (k in obj) throw new ValidationError(`parameter "${k}" given more than once`);
      obj[k] = v;
    }
    assertPortableJson(obj, 'request body');
    return validate(route.body, obj, 'request body');
  }
  if (ctype !== 'application/json' && !ctype.endsWith('+json')) {
    throw new UnsupportedMediaTypeError('expected application/json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ValidationError('request body is not valid JSON');
  }
  assertPortableJson(parsed, 'request body');
  return validate(route.body, parsed, 'request body');
}

function respond(r: ApiResult): APIGatewayProxyStructuredResultV2 {
  if (r.body === undefined) return { statusCode: r.status, headers: { ...r.headers } };
  if (r.raw)
    return {
      statusCode: r.status,
      headers: { ...r.headers },
      body: String(r.body),
      ...(r.base64 ? { isBase64Encoded: true } : {}),
    };
  return {
    statusCode: r.status,
    headers: { 'content-type': 'application/json', ...r.headers },
    body: JSON.stringify(r.body),
  };
}

export function problemResponse(e: unknown): APIGatewayProxyStructuredResultV2 {
  const p = toProblem(e);
  return { statusCode: p.status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(p) };
}

/**
 * Builds the Lambda handler for one API function: route lookup by `routeKey`, role check,
 * body/query validation against the route's schemas, then the operation; every failure becomes
 * RFC 9457 problem+json. Throws at init when routes and operations disagree.
 *
 * @example
 * export const handler = createApiHandler(routesOf('identity-api'), {
 *   'POST /v1/identity/agents': async (req) => ({ status: 201, body: await register(req.body) }),
 * });
 */
export function createApiHandler(routes: readonly RouteSpec[], operations: Record<string, Operation>) {
  const byKey = new Map(routes.map((r) => [routeKey(r), r]));
  for (const key of byKey.keys()) if (!operations[key]) throw new Error(`no operation for route ${key}`);
  for (const key of Object.keys(operations)) if (!byKey.has(key)) throw new Error(`operation ${key} has no route`);

  return observed(async (event: APIGatewayProxyEventV2, _ctx: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = byKey.get(event.routeKey);
    try {
      if (!route) throw new ArxNotRouted(`no route ${event.routeKey}`);
      const headers = lowerHeaders(event.headers);
      const auth = decodeAuthContext(
        (event.requestContext as { authorizer?: { lambda?: unknown } }).authorizer?.lambda,
      );
      if (route.auth === 'bearer') {
        if (!auth) throw new UnauthorizedError('a bearer token is required');
        if (!auth.roles.some((r) => route.roles.includes(r))) {
          throw new ForbiddenError(`this operation needs one of the roles: ${route.roles.join(', ')}`);
        }
      }
      const rawBytes = event.body
        ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8')
        : Buffer.alloc(0);
      const limit = route.maxBodyBytes ?? MAX_BODY_BYTES;
      if (rawBytes.length > limit) throw new PayloadTooLargeError(`request body exceeds ${limit} bytes`);
      const raw = route.bodyType === 'binary' ? '' : rawBytes.toString('utf8');
      assertPathParams(event.pathParameters ?? {});
      assertPortableJson(
        { params: event.pathParameters ?? {}, query: event.queryStringParameters ?? {}, headers },
        'request parameters',
      );
      const body = parseBody(route, headers, raw);
      const query = route.query
        ? validate(route.query, event.queryStringParameters ?? {}, 'query parameters')
        : (event.queryStringParameters ?? {});
      const trace = traceFrom(headers.traceparent);
      logger.appendKeys({ route: event.routeKey, tenant_id: auth?.tenantId, trace_id: trace.traceId });
      const result = await operations[event.routeKey]!({
        body,
        query,
        params: (event.pathParameters ?? {}) as Record<string, string>,
        headers,
        rawBody: raw,
        rawBytes,
        auth,
        route,
        trace,
        requestId: event.requestContext.requestId,
      });
      metrics.addMetric(`http${Math.floor(result.status / 100)}xx`, MetricUnit.Count, 1);
      return respond(result);
    } catch (e) {
      const status = e instanceof ArxError ? e.status : 500;
      metrics.addMetric(`http${Math.floor(status / 100)}xx`, MetricUnit.Count, 1);
      if (status >= 500) logger.error('request failed', { error: e as Error });
      else logger.info('request refused', { status, error_name: (e as Error).name });
      return problemResponse(e);
    }
  });
}

class ArxNotRouted extends ArxError {
  override readonly name = 'NotRoutedError';
  readonly status = 404;
  readonly slug = 'not-found';
  readonly title = 'Not found';
}

/** Wraps an EventBridge consumer or scheduled job in the same middy chain. */
export function createJobHandler<E>(fn: (event: E) => Promise<void>) {
  return observed(async (event: E, _ctx: Context): Promise<void> => {
    await fn(event);
  });
}
