import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { encodeAuthContext, type AuthContext } from '../../lambdas/shared/http.js';

export interface ApiEventInput {
  /** The route's method and path template, as the topology declares them (`GET /v1/actions/{id}`). */
  readonly method: string;
  readonly route: string;
  /** Path parameters, substituted into the template for `rawPath`. */
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON (with its content type); a string as it is. */
  readonly body?: unknown;
  /** The verified caller, as the Lambda authorizer hands it on; none for public routes. */
  readonly auth?: AuthContext;
}

/**
 * The API Gateway HTTP API (v2) event a handler receives for a request on `route`, after the
 * authorizer: what tests that invoke a handler directly send instead of writing the event out.
 */
export function apiEvent(i: ApiEventInput): APIGatewayProxyEventV2 {
  let path = i.route;
  for (const [k, v] of Object.entries(i.params ?? {})) path = path.replace(`{${k}}`, encodeURIComponent(v));
  const json = i.body !== undefined && typeof i.body !== 'string';
  return {
    version: '2.0',
    routeKey: `${i.method} ${i.route}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(i.query ?? {}).toString(),
    ...(i.query ? { queryStringParameters: i.query } : {}),
    headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...(i.headers ?? {}) },
    requestContext: {
      requestId: randomUUID(),
      routeKey: `${i.method} ${i.route}`,
      http: { method: i.method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      ...(i.auth ? { authorizer: { lambda: encodeAuthContext(i.auth) } } : {}),
    },
    ...(i.params ? { pathParameters: i.params } : {}),
    ...(i.body !== undefined ? { body: json ? JSON.stringify(i.body) : (i.body as string) } : {}),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}
