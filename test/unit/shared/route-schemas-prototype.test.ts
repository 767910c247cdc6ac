/**
 * Issue 10 §4: prototype keys never reach handler code, and unknown keys are treated the same way
 * everywhere. For every route of the topology with a body or query schema, valid requests
 * (generated from the schema) get `__proto__`, `constructor` and `prototype` keys injected at the
 * root and in every nested object, as JSON.parse makes them (own keys), and go through the API
 * edge (createApiHandler) with the route's real schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { TOPOLOGY } from '../../../lambdas/topology.js';
import { routeKey, type RouteSpec } from '../../../lambdas/shared/topology-types.js';
import { assertPortableJson, createApiHandler, encodeAuthContext } from '../../../lambdas/shared/http.js';
import { objectShapes, validArbitrary } from '../../support/zod-arbitrary.js';

const SEED = 20261201;
const ctx = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 } as unknown as Context;

/** Routes whose body the API edge parses (json / form); `raw` routes parse their own body. */
const edgeParsed = TOPOLOGY.routes.filter((r) => r.body && (r.bodyType ?? 'json') !== 'raw');
const withQuery = TOPOLOGY.routes.filter((r) => r.query);

/** Every schema the topology declares for a body or query, strict or not. */
const allSchemas = TOPOLOGY.routes.flatMap((r) => [
  ...(r.body ? [{ route: r, where: 'body' as const, schema: r.body }] : []),
  ...(r.query ? [{ route: r, where: 'query' as const, schema: r.query }] : []),
]);

/** Schemas that are deliberately not strict, with the reason. A new one must be added here on purpose. */
const NOT_STRICT: Record<string, string> = {
  'POST /v1/identity/token body': 'RFC 6749 §3.2: unrecognised token request parameters MUST be ignored',
  'POST /v1/mcp/{connector} body':
    "JSON-RPC / MCP messages carry each method's own params and _meta; the MCP SDK validates them per method",
};

function call(route: RouteSpec, o: { body?: string; query?: Record<string, string> }) {
  const seen: { body?: unknown; query?: unknown }[] = [];
  const handler = createApiHandler([route], {
    [routeKey(route)]: async (req) => {
      seen.push({ body: req.body, query: req.query });
      return { status: 200, body: { ok: true } };
    },
  });
  const form = route.bodyType === 'form';
  const event = {
    version: '2.0',
    routeKey: routeKey(route),
    rawPath: '/',
    rawQueryString: '',
    isBase64Encoded: false,
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.query ? { queryStringParameters: o.query } : {}),
    requestContext: {
      requestId: 'req',
      routeKey: routeKey(route),
      http: { method: route.method, path: '/' },
      authorizer: {
        lambda: encodeAuthContext({
          tenantId: 'acme',
          subject: 'alice',
          roles: [...route.roles],
          principalType: 'human',
        }),
      },
    },
  } as unknown as APIGatewayProxyEventV2;
  return (handler(event, ctx) as Promise<{ statusCode: number; headers: Record<string, string>; body: string }>).then(
    (r) => ({ ...r, seen }),
  );
}

/** JSON paths of every plain object inside `v` (root included). */
function objectPaths(v: unknown, path: string[] = []): string[][] {
  if (!v || typeof v !== 'object') return [];
  const here = Array.isArray(v) ? [] : [path];
  return [...here, ...Object.entries(v).flatMap(([k, x]) => objectPaths(x, [...path, k]))];
}

/** JSON text of `v` with an own `key: payload` added in the object at `at` (as JSON.parse would make it). */
function injected(v: unknown, at: string[], key: string, payload: unknown): string {
  const copy = JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  let o: Record<string, unknown> = copy;
  for (const k of at) o = o[k] as Record<string, unknown>;
  Object.defineProperty(o, key, { value: payload, enumerable: true, configurable: true, writable: true });
  return JSON.stringify(copy);
}

/** Every object reachable in `v` keeps Object.prototype (or null) and has no own "__proto__". */
function prototypesIntact(v: unknown): boolean {
  if (!v || typeof v !== 'object') return true;
  const proto = Object.getPrototypeOf(v);
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return false;
  if (Object.hasOwn(v, '__proto__')) return false;
  return Object.values(v).every(prototypesIntact);
}

afterEach(() => {
  // Nothing may ever land on the shared prototype.
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe('route schemas and prototype keys', () => {
  it('every body and query schema of the topology is strict, except the documented ones', () => {
    const loose = allSchemas
      .filter(({ schema }) => objectShapes(schema).some((s) => !s.strict))
      .map(({ route, where }) => `${routeKey(route)} ${where}`);
    expect(loose.sort()).toEqual(Object.keys(NOT_STRICT).sort());
  });

  it('refuses the JSON text {"__proto__":{"x":1}} at the edge, and JSON.parse never pollutes Object.prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"x":1}}') as object;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(() => assertPortableJson(parsed, 'request body')).toThrow(/invalid request body/);
    expect(() => assertPortableJson({ a: [{ b: parsed }] }, 'request body')).toThrow(/invalid request body/);
  });

  describe.each(edgeParsed.map((r) => [routeKey(r), r] as const))('%s body', (_key, route) => {
    const samples = fc.sample(validArbitrary(route.body!), { numRuns: 4, seed: SEED });

    it('passes valid generated bodies to the operation with intact prototypes', async () => {
      for (const v of samples) {
        const text =
          route.bodyType === 'form' ? new URLSearchParams(v as Record<string, string>).toString() : JSON.stringify(v);
        const r = await call(route, { body: text });
        expect(r.statusCode, `${text} → ${r.body}`).toBe(200);
        expect(prototypesIntact(r.seen[0]!.body)).toBe(true);
      }
    });

    it('refuses "__proto__" at the root and in every nested object, without calling the operation', async () => {
      if (route.bodyType === 'form')
        return expect((await call(route, { body: '__proto__=x&a=1' })).statusCode).toBe(400);
      for (const v of samples) {
        for (const at of objectPaths(v)) {
          const text = injected(v, at, '__proto__', { polluted: 'yes' });
          const r = await call(route, { body: text });
          expect(r.statusCode, text).toBe(400);
          expect(r.headers['content-type']).toBe('application/problem+json');
          expect(r.seen).toEqual([]);
        }
      }
    });

    it('"constructor" / "prototype" keys are refused where the shape is fixed, kept as plain data in free-form maps, never a prototype', async () => {
      for (const v of samples) {
        for (const at of objectPaths(v)) {
          for (const key of ['constructor', 'prototype']) {
            const text =
              route.bodyType === 'form'
                ? new URLSearchParams({ ...(v as Record<string, string>), [key]: 'x' }).toString()
                : injected(v, at, key, { prototype: { polluted: 'yes' } });
            const r = await call(route, { body: text });
            if (r.statusCode === 200) {
              // Accepted only as data: an own key of a free-form record, or dropped by a non-strict object.
              expect(prototypesIntact(r.seen[0]!.body), text).toBe(true);
              expect(Object.getPrototypeOf(r.seen[0]!.body)).toBe(Object.prototype);
            } else {
              expect(r.statusCode, text).toBe(400);
              expect(r.seen).toEqual([]);
            }
          }
        }
      }
    });

    it('an unknown top-level key is refused by a strict schema and stripped by a documented non-strict one', async () => {
      const strict = !NOT_STRICT[`${routeKey(route)} body`];
      for (const v of samples) {
        const extra = { ...(v as object), zz_unknown: 'x' };
        const text =
          route.bodyType === 'form'
            ? new URLSearchParams(extra as Record<string, string>).toString()
            : JSON.stringify(extra);
        const r = await call(route, { body: text });
        if (strict) {
          expect(r.statusCode, text).toBe(400);
          expect(JSON.parse(r.body).errors).toEqual(
            expect.arrayContaining([expect.objectContaining({ message: expect.stringMatching(/unrecognized key/i) })]),
          );
        } else {
          expect(r.statusCode).toBe(200);
          expect(r.seen[0]!.body).not.toHaveProperty('zz_unknown');
        }
      }
    });
  });

  describe.each(withQuery.map((r) => [routeKey(r), r] as const))('%s query', (_key, route) => {
    it('refuses "__proto__", "constructor" and unknown query parameters', async () => {
      const samples = fc.sample(validArbitrary(route.query!, 'query'), { numRuns: 3, seed: SEED }) as Record<
        string,
        string
      >[];
      for (const q of samples) {
        expect((await call(route, { query: q })).statusCode, JSON.stringify(q)).toBe(200);
        for (const key of ['__proto__', 'constructor', 'prototype', 'zz_unknown']) {
          const bad = { ...q };
          Object.defineProperty(bad, key, { value: 'x', enumerable: true, configurable: true, writable: true });
          const r = await call(route, { query: bad });
          expect(r.statusCode, `${key} in ${JSON.stringify(q)}`).toBe(400);
          expect(r.seen).toEqual([]);
        }
      }
    });
  });

  it('raw-body routes with a schema (parsed by their handler) refuse prototype keys in that schema too', () => {
    for (const route of TOPOLOGY.routes.filter((r) => r.body && r.bodyType === 'raw')) {
      const strict = !NOT_STRICT[`${routeKey(route)} body`];
      for (const v of fc.sample(validArbitrary(route.body!), { numRuns: 3, seed: SEED })) {
        const parsed = JSON.parse(injected(v, [], '__proto__', { polluted: 'yes' }));
        const r = route.body!.safeParse(parsed);
        if (strict) expect(r.success, routeKey(route)).toBe(false);
        else expect(r.success && prototypesIntact(r.data), routeKey(route)).toBe(true);
      }
    }
  });
});
