import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createApiHandler, encodeAuthContext, MAX_BODY_BYTES } from '../../../lambdas/shared/http.js';
import { ConflictError } from '../../../lambdas/shared/errors.js';
import type { RouteSpec } from '../../../lambdas/shared/topology-types.js';

const routes: RouteSpec[] = [
  {
    method: 'POST',
    path: '/v1/things',
    fn: 'f',
    auth: 'bearer',
    roles: ['admin'],
    summary: 's',
    body: z.strictObject({ name: z.string().min(1) }),
  },
  {
    method: 'GET',
    path: '/v1/things/{id}',
    fn: 'f',
    auth: 'bearer',
    roles: ['admin', 'auditor'],
    summary: 's',
    query: z.strictObject({ verbose: z.enum(['true', 'false']).optional() }),
  },
  { method: 'GET', path: '/open', fn: 'f', auth: 'none', roles: [], summary: 's' },
];

const ctx = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 } as unknown as Context;
const auth = (roles: string[]) =>
  encodeAuthContext({ tenantId: 'acme', subject: 'alice', roles: roles as never, principalType: 'human' });

function event(
  routeKey: string,
  o: {
    body?: string;
    roles?: string[] | null;
    query?: Record<string, string>;
    ctype?: string;
    params?: Record<string, string>;
  } = {},
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey,
    rawPath: '/',
    rawQueryString: '',
    isBase64Encoded: false,
    headers: { 'content-type': o.ctype ?? 'application/json' },
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.query ? { queryStringParameters: o.query } : {}),
    ...(o.params ? { pathParameters: o.params } : {}),
    requestContext: {
      requestId: 'req',
      routeKey,
      http: { method: 'GET', path: '/' },
      ...(o.roles === null ? {} : { authorizer: { lambda: auth(o.roles ?? ['admin']) } }),
    },
  } as unknown as APIGatewayProxyEventV2;
}

describe('createApiHandler', () => {
  const seen: unknown[] = [];
  const handler = createApiHandler(routes, {
    'POST /v1/things': async (req) => {
      seen.push(req.body);
      return { status: 201, body: { ok: true, tenant: req.auth!.tenantId } };
    },
    'GET /v1/things/{id}': async (req) => {
      if (req.params.id === 'taken') throw new ConflictError('taken');
      if (req.params.id === 'boom') throw new Error('db password=hunter2');
      return { status: 200, body: { id: req.params.id, q: req.query } };
    },
    'GET /open': async (req) => ({ status: 200, body: { auth: req.auth } }),
  });
  const call = (e: APIGatewayProxyEventV2) =>
    handler(e, ctx) as Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

  it('refuses to build when a route has no operation', () => {
    expect(() => createApiHandler(routes, {})).toThrow(/no operation for route/);
  });

  it('passes a valid body and the verified tenant to the operation', async () => {
    const r = await call(event('POST /v1/things', { body: '{"name":"x"}' }));
    expect(r.statusCode).toBe(201);
    expect(JSON.parse(r.body)).toEqual({ ok: true, tenant: 'acme' });
  });

  it.each([
    ['malformed JSON', '{"name":', 400],
    ['an unknown field', '{"name":"x","admin":true}', 400],
    ['a wrong type', '{"name":5}', 400],
  ])('answers %s with a problem and does not call the operation', async (_what, body, status) => {
    const before = seen.length;
    const r = await call(event('POST /v1/things', { body }));
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(seen.length).toBe(before);
  });

  it('answers 413 for a body over the limit and 415 for a non-JSON body', async () => {
    expect(
      (await call(event('POST /v1/things', { body: JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES) }) }))).statusCode,
    ).toBe(413);
    expect((await call(event('POST /v1/things', { body: 'name=x', ctype: 'text/plain' }))).statusCode).toBe(415);
  });

  it('answers 401 without an authorizer context and 403 for a role the route does not admit', async () => {
    expect((await call(event('POST /v1/things', { body: '{"name":"x"}', roles: null }))).statusCode).toBe(401);
    const r = await call(event('POST /v1/things', { body: '{"name":"x"}', roles: ['auditor'] }));
    expect(r.statusCode).toBe(403);
    expect(JSON.parse(r.body).detail).toMatch(/admin/);
  });

  it('validates query parameters strictly', async () => {
    expect(
      (await call(event('GET /v1/things/{id}', { params: { id: 'a' }, query: { verbose: 'yes' } }))).statusCode,
    ).toBe(400);
    expect((await call(event('GET /v1/things/{id}', { params: { id: 'a' }, query: { other: '1' } }))).statusCode).toBe(
      400,
    );
    const ok = await call(event('GET /v1/things/{id}', { params: { id: 'a' }, query: { verbose: 'true' } }));
    expect(JSON.parse(ok.body)).toEqual({ id: 'a', q: { verbose: 'true' } });
  });

  it('maps typed errors to their status and hides internal detail of 5xx', async () => {
    const c = await call(event('GET /v1/things/{id}', { params: { id: 'taken' } }));
    expect(c.statusCode).toBe(409);
    const b = await call(event('GET /v1/things/{id}', { params: { id: 'boom' } }));
    expect(b.statusCode).toBe(500);
    expect(b.body).not.toContain('hunter2');
    expect(JSON.parse(b.body)).toEqual({
      type: expect.stringMatching(/internal/),
      title: 'Internal error',
      status: 500,
    });
  });

  it('serves public routes without authentication', async () => {
    const r = await call(event('GET /open', { roles: null }));
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ auth: null });
  });
});
