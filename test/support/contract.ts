import { z } from 'zod';
import { ErrorBody } from '../../lambdas/shared/responses.js';
import { routeKey, type ResponseSpec, type RouteSpec } from '../../lambdas/shared/topology-types.js';
import { TOPOLOGY } from '../../lambdas/topology.js';

/**
 * Checks a real response against the schema its route declares (`RouteSpec.response`,
 * `otherResponses`): the test helper `api()` runs every response through it, so each test that
 * talks to the local runtime also proves the contract holds for what it saw.
 */

const compiled = TOPOLOGY.routes.map((route) => ({
  route,
  re: new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '([^/]+)')}$`),
}));

/** The route the local runtime dispatches `method path` to (first match, as local/runtime.ts does). */
export function routeOf(method: string, path: string): RouteSpec | undefined {
  const pathname = new URL(path, 'http://x').pathname;
  return compiled.find((c) => c.route.method === method.toUpperCase() && c.re.test(pathname))?.route;
}

/** `METHOD /template` and status of every response checked so far (tests may assert coverage). */
export const checkedResponses = new Set<string>();

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

function parse(schema: z.ZodType, value: unknown): string | null {
  const r = schema.safeParse(value);
  return r.success ? null : z.prettifyError(r.error);
}

/**
 * Throws a `ContractViolation` naming the route when the response does not conform: a success
 * status the route does not declare, or a body its schema refuses. Error statuses may answer the
 * declared body or the shared error shape (problem details, or API Gateway's `{message}`).
 */
export function checkResponse(
  method: string,
  path: string,
  res: { status: number; contentType: string; text: string },
): void {
  const route = routeOf(method, path);
  const json = /json/.test(res.contentType);
  const body = (): unknown => {
    try {
      return res.text ? JSON.parse(res.text) : undefined;
    } catch {
      throw new ContractViolation(`${method} ${path} → ${res.status}: the body is not JSON (${res.contentType})`);
    }
  };
  if (!route) {
    // Not an API route (the dev IdP's keys, the console): only the gateway's own errors are checked.
    if (res.status >= 400 && json) {
      const err = parse(ErrorBody, body());
      if (err) throw new ContractViolation(`${method} ${path} → ${res.status}: not an error body\n${err}`);
    }
    return;
  }
  checkRouteResponse(route, `${method} ${path}`, res);
}

/** `checkResponse` for a response the caller knows the route of (handlers invoked directly). */
export function checkRouteResponse(
  route: RouteSpec,
  request: string,
  res: { status: number; contentType: string; text: string },
): void {
  const json = /json/.test(res.contentType);
  const body = (): unknown => {
    try {
      return res.text ? JSON.parse(res.text) : undefined;
    } catch {
      throw new ContractViolation(`${request} → ${res.status}: the body is not JSON (${res.contentType})`);
    }
  };
  const key = routeKey(route);
  const spec: ResponseSpec | undefined = [
    ...(route.response ? [route.response] : []),
    ...(route.otherResponses ?? []),
  ].find((s) => s.status === res.status);
  const fail = (why: string): never => {
    throw new ContractViolation(`${key} (${request}) → ${res.status}: ${why}`);
  };
  checkedResponses.add(`${key} ${res.status}`);
  const isText = (s: ResponseSpec | undefined) =>
    Boolean(s && (s.contentType ?? 'application/json').startsWith('text/'));
  const declaredText = isText(spec);
  if (res.status >= 400) {
    if (isText(route.response)) return; // HTML routes answer their errors as pages
    if (!json) fail(`an error answered ${res.contentType || 'no content type'}, not problem details`);
    const value = body();
    if (spec?.schema && parse(spec.schema, value) === null) return;
    const err = parse(ErrorBody, value);
    if (err) fail(`the error body is neither ${spec?.schema ? 'the declared one nor ' : ''}problem details\n${err}`);
    return;
  }
  if (!spec) {
    fail(`status ${res.status} is not declared by the route`);
    return;
  }
  if (!spec.schema) {
    if (res.text) fail('a body where the route declares none');
    return;
  }
  if (declaredText) {
    if (!res.contentType.startsWith(spec.contentType!))
      fail(`answered ${res.contentType}, declared ${spec.contentType}`);
    return;
  }
  if (!json) {
    // The OTLP receivers answer protobuf to a protobuf request; the JSON encoding is the one checked.
    if (route.bodyType === 'binary') return;
    fail(`answered ${res.contentType || 'no content type'}, declared ${spec.contentType ?? 'application/json'}`);
  }
  const err = parse(spec.schema, body());
  if (err) fail(`the body does not match the declared schema\n${err}`);
}
