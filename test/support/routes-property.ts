/**
 * The route property test, run per group of capabilities by test/integration/routes-property-*.test.ts.
 *
 * Issue 10 §4: bad input never reaches a 5xx. For EVERY route of the topology (a new route is
 * covered without touching this file), fast-check sends requests generated from the route's zod
 * schemas — valid values and malformed variants (wrong types, huge strings, hostile unicode,
 * prototype keys, missing / extra fields, non-JSON bodies, wrong content types, huge or odd path
 * parameters and query strings) — through the real handler chain (API Gateway v2 events with the
 * authorizer context of a caller holding one of the route's roles) against the provisioned moto
 * stack, and asserts:
 *   - the status is never 5xx;
 *   - a 4xx is RFC 9457 problem JSON (RFC 6749 §5.2 error JSON on the OAuth token endpoint, an
 *     HTML page on the e-mail link routes a browser opens);
 *   - a 4xx wrote nothing: every table item, object version (and delete marker), bus event,
 *     state machine execution, secret and KMS key is as it was before the request. The state is
 *     read in full after every request that sent a mutating AWS command (test/support/aws-spy.ts
 *     records them; a request that sent none cannot have written), and once more after each
 *     route's runs, so a write the recorder missed fails the route too;
 *   - nothing reached Object.prototype.
 * Background work (event delivery, schedules, state machines) is off so only the request writes.
 * Fixed seed (ARX_PROPS_SEED overrides, ARX_PROPS_RUNS sets runs per route, default 10);
 * before the runs, every route gets the same invalid-input classes deterministically (invalidCases)
 * fast-check prints the seed and the counterexample on failure (huge strings cut short).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { TOPOLOGY } from '../../lambdas/topology.js';
import { routeKey, type Role, type RouteSpec } from '../../lambdas/shared/topology-types.js';
import {
  encodeAuthContext,
  MAX_BODY_BYTES,
  MAX_PATH_PARAM_BYTES,
  type AuthContext,
} from '../../lambdas/shared/http.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { freePort } from '../../local/moto.js';
import { testTemplate } from './template.js';
import { isMutating, spyOnAwsCalls, type AwsCall } from './aws-spy.js';
import { stackStateReader, stateDiff, type StackState } from './stack-state.js';
import {
  hugeString,
  mutatedArbitrary,
  objectShapes,
  nastyString,
  PROTO_KEYS,
  applyMutation,
  validArbitrary,
  type Mutation,
} from './zod-arbitrary.js';
import { checkRouteResponse } from './contract.js';

const SEED = Number(process.env.ARX_PROPS_SEED ?? 20261201);
const RUNS = Number(process.env.ARX_PROPS_RUNS ?? 10);
const TENANT = `p${randomBytes(4).toString('hex')}`;

/** One generated request, kept readable so a counterexample says what was sent. */
interface Req {
  readonly role: Role | null;
  readonly params: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly base64?: boolean;
  readonly note: string;
  readonly mutation?: Mutation;
}

const seeded = { agentId: '', spiffeId: '' };

function authFor(role: Role): AuthContext {
  if (role === 'agent')
    return {
      tenantId: TENANT,
      subject: seeded.spiffeId,
      roles: ['agent'],
      principalType: 'agent',
      agentId: seeded.agentId,
      spiffeId: seeded.spiffeId,
    };
  return {
    tenantId: TENANT,
    subject: `${role}-1`,
    roles: [role],
    principalType: 'human',
    ...(role === 'approver' ? { email: 'approver@acme.com' } : {}),
  };
}

const paramNames = (path: string): string[] => [...path.matchAll(/\{([^}+]+)\+?\}/g)].map((m) => m[1]!);

/** Path parameter values: real ids of the seeded tenant, plausible ids, and hostile ones. */
function paramArb(name: string): fc.Arbitrary<string> {
  const real = fc.constantFrom(...[TENANT, seeded.agentId, seeded.spiffeId].filter(Boolean));
  const plausible = fc.oneof(
    fc.stringMatching(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/),
    fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/),
    fc.uuid(),
    fc.constantFrom(
      'okta',
      'slack',
      'email',
      'webhook',
      'aws',
      'bedrock',
      'http',
      'soc2',
      'iso27001',
      'CC6.1',
      '1',
      '0',
    ),
  );
  const hostile = fc.oneof(
    nastyString(),
    fc.constantFrom(
      ...PROTO_KEYS,
      '',
      ' ',
      '..',
      '%2e%2e',
      'a/b',
      '*',
      '$',
      '\u0000',
      '-1',
      'NaN',
      'Infinity',
      '1e309',
    ),
    hugeString(10 * 1024),
    // just under the edge's path parameter limit: long enough to overflow a key built from it
    hugeString(MAX_PATH_PARAM_BYTES - 4),
    fc.stringMatching(/^[a-z0-9]{1000,1024}$/),
  );
  return name === 'tenant_id'
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constant(TENANT) },
        { weight: 1, arbitrary: hostile },
        { weight: 1, arbitrary: plausible },
      )
    : fc.oneof(real, plausible, hostile);
}

const asQuery = (v: unknown): Record<string, string> | undefined => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v === undefined ? undefined : { q: String(v) };
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v))
    Object.defineProperty(out, k, {
      value: typeof x === 'string' ? x : (JSON.stringify(x) ?? ''),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
};

function queryArb(route: RouteSpec): fc.Arbitrary<Record<string, string> | undefined> {
  const junk = fc.oneof(
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS, 'limit', 'next_token', 'wait')),
      fc.oneof(nastyString(), fc.string({ maxLength: 12 })),
      { maxKeys: 3 },
    ),
    hugeString(16 * 1024).map((s) => ({ next_token: s, limit: s.slice(0, 40) })),
  );
  if (!route.query) return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junk });
  return fc.oneof(
    { weight: 3, arbitrary: validArbitrary(route.query, 'query').map(asQuery) },
    { weight: 3, arbitrary: mutatedArbitrary(route.query, 'query', [16 * 1024]).map((m) => asQuery(m.value)) },
    { weight: 1, arbitrary: junk },
  );
}

/** Routes a human opens in a browser (one-time e-mail links): 4xx answers are HTML pages, not problem JSON. */
const BROWSER_ROUTES = new Set(['GET /v1/approvals/email/{token}', 'POST /v1/approvals/email/{token}']);

const JSON_CT = { 'content-type': 'application/json' };
const FORM_CT = { 'content-type': 'application/x-www-form-urlencoded' };

const formOf = (v: unknown): string => {
  if (!v || typeof v !== 'object') return String(v);
  return new URLSearchParams(
    Object.entries(v).map(([k, x]): [string, string] => [
      wellFormed(k),
      wellFormed(typeof x === 'string' ? x : (JSON.stringify(x) ?? '')),
    ]),
  ).toString();
};

/** Bodies that are not what the route takes: not JSON, truncated, wrong root, binary, empty, oversized. */
const junkBody = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '{"a":',
    '[]',
    'null',
    'true',
    '0',
    '"x"',
    '{}',
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '\uFEFF{}',
    '<xml/>',
    'a=1&a=2',
    '%',
    '\u0000',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  hugeString(MAX_BODY_BYTES + 1024),
  fc.nat({ max: 40 }).map((n) => '['.repeat(n * 250) + ']'.repeat(n * 250)),
);
const oddContentType = fc.constantFrom<Record<string, string>>(
  {},
  { 'content-type': 'text/plain' },
  { 'content-type': 'application/xml' },
  { 'content-type': 'multipart/form-data; boundary=x' },
  { 'content-type': 'application/json; charset=utf-16' },
  { 'content-type': 'APPLICATION/JSON' },
  { 'content-type': 'application/problem+json' },
  { 'content-type': '\u0000' },
  FORM_CT,
  JSON_CT,
);
/** Headers some routes read (traces, correlation, signatures, conditional GETs), given hostile values. */
const oddHeaders = fc.dictionary(
  fc.constantFrom(
    'traceparent',
    'x-correlation-id',
    'x-arx-signature',
    'x-slack-signature',
    'x-slack-request-timestamp',
    'if-none-match',
    'authorization',
    'idempotency-key',
  ),
  fc.oneof(
    nastyString(),
    fc.string({ maxLength: 60 }),
    fc.constantFrom(`00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`, 't=1,v1=00', 'v0=00', '9999999999', 'Basic Og=='),
  ),
  { maxKeys: 3 },
);

function bodyArb(route: RouteSpec): fc.Arbitrary<{
  body?: string;
  headers: Record<string, string>;
  note: string;
  mutation?: Mutation;
  base64?: boolean;
}> {
  const kind = route.bodyType ?? 'json';
  const form = kind === 'form' || route.contentType === 'application/x-www-form-urlencoded';
  const encode = form ? formOf : (v: unknown) => JSON.stringify(v);
  const ct = form ? FORM_CT : JSON_CT;
  const junk = fc.record({
    body: junkBody,
    headers: fc.oneof(fc.constant(ct), oddContentType),
    note: fc.constant('junk body'),
  });
  if (!route.body) {
    if (kind === 'raw') {
      // Raw routes parse their body themselves (signed callbacks, e-mail links): forms, JSON, junk.
      return fc.oneof(
        junk,
        fc.record({
          body: fc
            .dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), nastyString()), {
              maxKeys: 4,
            })
            .map(formOf),
          headers: fc.constant(FORM_CT),
          note: fc.constant('form body'),
        }),
        fc.record({
          body: fc.jsonValue({ maxDepth: 3 }).map((v) => `payload=${encodeURIComponent(JSON.stringify(v))}`),
          headers: fc.constant(FORM_CT),
          note: fc.constant('slack-like payload'),
        }),
        fc.record({ body: fc.constant(undefined), headers: fc.constant({}), note: fc.constant('no body') }),
      );
    }
    return fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ body: fc.constant(undefined), headers: fc.constant({}), note: fc.constant('no body') }),
      },
      { weight: 1, arbitrary: junk },
    );
  }
  const schema = route.body;
  return fc.oneof(
    { weight: 4, arbitrary: validArbitrary(schema).map((v) => ({ body: encode(v), headers: ct, note: 'valid body' })) },
    {
      weight: 6,
      arbitrary: mutatedArbitrary(schema).map((m) => ({
        body: encode(m.value),
        headers: ct,
        note: `mutated body (${m.mutation.kind})`,
        mutation: m.mutation,
      })),
    },
    { weight: 2, arbitrary: junk },
    {
      weight: 1,
      arbitrary: fc.record({
        body: validArbitrary(schema).map(encode),
        headers: oddContentType,
        note: fc.constant('valid body, other content type'),
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          validArbitrary(schema).map((v) => Buffer.from(encode(v)).toString('base64')),
          fc.constantFrom('!!!not base64', '====', 'e30'),
        )
        .map((b) => ({ body: b, headers: ct, note: 'base64 body', base64: true })),
    },
  );
}

function requestArb(route: RouteSpec): fc.Arbitrary<Req> {
  const names = paramNames(route.path);
  const role: fc.Arbitrary<Role | null> = route.auth === 'bearer' ? fc.constantFrom(...route.roles) : fc.constant(null);
  return fc
    .record({
      role,
      params: fc.record(Object.fromEntries(names.map((n) => [n, paramArb(n)]))) as fc.Arbitrary<Record<string, string>>,
      query: queryArb(route),
      body: bodyArb(route),
      extra: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: oddHeaders }),
    })
    .map(({ role, params, query, body, extra }) =>
      withShortPrint({
        role,
        params,
        ...(query ? { query } : {}),
        headers: { ...(extra ?? {}), ...body.headers },
        ...(body.body !== undefined ? { body: body.body } : {}),
        ...(body.base64 ? { base64: true } : {}),
        note: body.note,
        ...(body.mutation ? { mutation: body.mutation } : {}),
      }),
    );
}

/** fast-check prints counterexamples with this: huge strings are cut, so a failure stays readable. */
function withShortPrint(r: Req): Req {
  return Object.defineProperty(r, fc.toStringMethod, { value: () => short(r), enumerable: false });
}

/**
 * The invalid-input classes every route gets deterministically, before its randomized runs (so
 * fewer runs still cover each class on each route): every body mutation kind on the route's first
 * body field, non-JSON / truncated / wrong-root / empty / oversized / base64-garbage bodies, a
 * valid body under other content types, every query mutation kind, a huge query string, and
 * empty / prototype-key / lone-surrogate / over-long values for each path parameter. `refuse`
 * marks the cases no route may accept: they must get a 4xx (the check then asserts it wrote nothing).
 */
function invalidCases(route: RouteSpec): { req: Req; refuse: boolean }[] {
  const kind = route.bodyType ?? 'json';
  const form = kind === 'form' || route.contentType === 'application/x-www-form-urlencoded';
  const encode = form ? formOf : (v: unknown) => JSON.stringify(v);
  const ct = form ? FORM_CT : JSON_CT;
  const role = route.auth === 'bearer' ? route.roles[0]! : null;
  const one = <T>(a: fc.Arbitrary<T>): T => fc.sample(a, { numRuns: 1, seed: SEED })[0]!;
  const params = Object.fromEntries(paramNames(route.path).map((n) => [n, n === 'tenant_id' ? TENANT : 'x1']));
  const query = route.query ? asQuery(one(validArbitrary(route.query, 'query'))) : undefined;
  const validBody = route.body ? encode(one(validArbitrary(route.body))) : undefined;
  const base = { role, params, ...(query ? { query } : {}), headers: validBody ? ct : {} };
  const out: { req: Req; refuse: boolean }[] = [];
  const add = (r: Partial<Req> & { note: string }, refuse = false) =>
    out.push({ req: withShortPrint({ ...base, ...(validBody ? { body: validBody } : {}), ...r } as Req), refuse });
  const mutations = (schema: RouteSpec['body'] & object, mode: 'json' | 'query'): Mutation[] => {
    const key = Object.keys(objectShapes(schema)[0]?.shape ?? {})[0] ?? 'x';
    return [
      { kind: 'wrong-type', key, value: mode === 'query' ? '\uD800\u0000' : { nested: [1] } },
      { kind: 'huge-string', key, bytes: 300 * 1024, value: 'a'.repeat(300 * 1024) },
      { kind: 'unicode', key, value: '\uD800\u202E\u0000\uFEFF' },
      { kind: 'missing', key },
      { kind: 'extra', key: '__defineGetter__', value: mode === 'query' ? 'x' : 1 },
      {
        kind: 'proto-key',
        key: '__proto__',
        value: mode === 'query' ? 'polluted' : { polluted: 'yes' },
        nested: false,
      },
      ...(mode === 'json'
        ? ([
            { kind: 'proto-key', key: 'constructor', value: { prototype: { polluted: 'yes' } }, nested: true },
            { kind: 'wrong-root', value: null },
          ] as Mutation[])
        : []),
    ];
  };
  if (route.body) {
    const valid = one(validArbitrary(route.body));
    for (const m of mutations(route.body, 'json'))
      add(
        { body: encode(applyMutation(valid, m)), headers: ct, note: `mutated body (${m.kind})`, mutation: m },
        m.kind === 'wrong-root' && !form,
      );
    for (const [body, refuse] of [
      ['{', !form],
      ['{"a":', !form],
      ['', true],
      ['\uFEFF{}', false],
      ['<xml/>', !form],
      ['[]', !form],
      ['x'.repeat(MAX_BODY_BYTES + 1024), true],
    ] as const)
      add({ body, headers: ct, note: 'junk body' }, refuse);
    for (const headers of [
      {} as Record<string, string>,
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/xml' },
    ])
      add({ headers, note: 'valid body, other content type' });
    add({ body: '!!!not base64', base64: true, headers: ct, note: 'base64 body' });
  } else {
    add({ body: '{', headers: JSON_CT, note: 'junk body' });
    add({ body: 'x'.repeat(MAX_BODY_BYTES + 1024), headers: JSON_CT, note: 'junk body' });
  }
  if (route.query)
    for (const m of mutations(route.query as RouteSpec['body'] & object, 'query'))
      add({
        query: asQuery(applyMutation(one(validArbitrary(route.query, 'query')), m)),
        note: `mutated query (${m.kind})`,
        mutation: m,
      });
  add({ query: { next_token: 'a'.repeat(16 * 1024), limit: '-1', ['__proto__']: 'x' }, note: 'junk query' });
  for (const name of Object.keys(params))
    for (const v of ['', '__proto__', '\uD800', '%2e%2e', 'a'.repeat(MAX_PATH_PARAM_BYTES - 4), 'a'.repeat(10 * 1024)])
      add({ params: { ...params, [name]: v }, note: `path parameter ${name}` });
  add({
    headers: {
      ...base.headers,
      traceparent: '\u0000',
      'x-correlation-id': 'a'.repeat(5000),
      'if-none-match': '__proto__',
    },
    note: 'odd headers',
  });
  return out;
}

let rt: LocalRuntime;
let state: Awaited<ReturnType<typeof stackStateReader>>;
let last: StackState;
let spy: ReturnType<typeof spyOnAwsCalls>;

/** Lone surrogates → U+FFFD (String.prototype.toWellFormed, not in this TS lib). */
const wellFormed = (s: string): string =>
  s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

async function send(route: RouteSpec, r: Req): Promise<APIGatewayProxyStructuredResultV2> {
  let path = route.path;
  for (const [k, v] of Object.entries(r.params))
    path = path.replace(new RegExp(`\\{${k}\\+?\\}`), encodeURIComponent(wellFormed(v)));
  // A URL carries bytes: a lone surrogate cannot travel in rawPath (pathParameters keep it, as a hostile gateway might).
  const rawQueryString = r.query
    ? new URLSearchParams(
        Object.entries(r.query).map(([k, v]): [string, string] => [wellFormed(k), wellFormed(v)]),
      ).toString()
    : '';
  const event = {
    version: '2.0',
    routeKey: routeKey(route),
    rawPath: path,
    rawQueryString,
    headers: r.headers,
    ...(r.query && Object.keys(r.query).length ? { queryStringParameters: r.query } : {}),
    ...(Object.keys(r.params).length ? { pathParameters: r.params } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'props',
      requestId: randomUUID(),
      routeKey: routeKey(route),
      stage: '$default',
      http: { method: route.method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'routes-property' },
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(r.role ? { authorizer: { lambda: encodeAuthContext(authFor(r.role)) } } : {}),
    },
    ...(r.body !== undefined ? { body: r.body } : {}),
    isBase64Encoded: Boolean(r.base64),
  };
  return (await rt.invoke(route.fn, event)) as APIGatewayProxyStructuredResultV2;
}

const short = (r: Req) =>
  JSON.stringify({
    ...r,
    body: r.body && r.body.length > 300 ? `${r.body.slice(0, 300)}… (${r.body.length} chars)` : r.body,
    params: Object.fromEntries(
      Object.entries(r.params).map(([k, v]) => [k, v.length > 100 ? `${v.slice(0, 100)}… (${v.length})` : v]),
    ),
    mutation: undefined,
    query:
      r.query &&
      Object.fromEntries(
        Object.entries(r.query).map(([k, v]) => [k, v.length > 100 ? `${v.slice(0, 100)}… (${v.length})` : v]),
      ),
  });

/**
 * Checks one response against the route's contract. The stack state is read again only after a
 * request that sent a mutating AWS command (the recorder sees every command the handler sent);
 * a request that sent none cannot have changed it, and reading it 1 000 times would dominate the
 * run on a shared emulator.
 */
async function check(route: RouteSpec, r: Req, res: APIGatewayProxyStructuredResultV2, sent: AwsCall[]): Promise<void> {
  const status = res.statusCode ?? 200;
  const where = `${routeKey(route)} ← ${short(r)} → ${status} ${String(res.body ?? '').slice(0, 300)}`;
  const writes = sent.filter(isMutating);
  let events: string[] = [];
  let diff: string[] = [];
  if (writes.length) {
    const t0 = performance.now();
    events = await state.drainEvents();
    const now = await state.read();
    timing.read += performance.now() - t0;
    timing.reads++;
    // Keys and secrets are account-wide: other suites create theirs meanwhile. They are compared
    // only when this request itself sent a mutating KMS or Secrets Manager command.
    diff = stateDiff(last, now, { accountWide: writes.some((w) => /kms|secrets/i.test(w.client)) });
    last = now;
    if (status >= 400) timing.refusedAfterWriteAttempt++;
  }
  expect(status, where).toBeLessThan(500);
  expect(({} as Record<string, unknown>).polluted, `Object.prototype polluted by ${where}`).toBeUndefined();
  if (status < 400) {
    // A success answers what the route declares (test/support/contract.ts), as the gateway sends it.
    const h = (res.headers ?? {}) as Record<string, string>;
    const text =
      res.body === undefined ? '' : res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString('latin1') : res.body;
    checkRouteResponse(route, where, {
      status,
      contentType: h['content-type'] ?? (res.body === undefined ? '' : 'application/json'),
      text,
    });
    return;
  }
  const ctype = String((res.headers as Record<string, string> | undefined)?.['content-type'] ?? '');
  if (BROWSER_ROUTES.has(routeKey(route)) && ctype.startsWith('text/html')) {
    // E-mail approve/deny links are opened in a browser: their refusals are HTML pages.
    expect(String(res.body), where).toMatch(/^<!doctype html>/);
  } else if (route.path === '/v1/identity/token' && ctype.startsWith('application/json')) {
    // RFC 6749 §5.2: {error, error_description?}
    expect(typeof (JSON.parse(String(res.body)) as { error?: unknown }).error, where).toBe('string');
  } else {
    expect(ctype, where).toBe('application/problem+json');
    expect(JSON.parse(String(res.body ?? 'null')), where).toMatchObject({
      status,
      type: expect.any(String),
      title: expect.any(String),
    });
  }
  expect(events, `bus events after a ${status}: ${where}`).toEqual([]);
  expect(diff, `writes after a ${status} (${writes.map((w) => w.command).join(', ')}): ${where}`).toEqual([]);
}

const timing = { fixed: 0, send: 0, read: 0, reads: 0, requests: 0, refusedAfterWriteAttempt: 0 };
const tally = new Map<string, Map<number, number>>();

/**
 * The route property test runs as one file per group of capabilities (test/integration/
 * routes-property-*.test.ts), so vitest's forks overlap them; each file provisions its own stack,
 * so one file's writes never show in another's state diffs. A route's capability is the first
 * word of its function's name; every capability belongs to exactly one group.
 */
export const ROUTE_GROUPS = {
  identity: ['platform', 'discovery', 'identity'],
  actions: ['policy', 'actions', 'killswitch'],
  audit: ['audit', 'compliance', 'observability', 'dashboard', 'drift', 'streaming'],
} as const satisfies Record<string, readonly string[]>;
export type RouteGroup = keyof typeof ROUTE_GROUPS;

export const capabilityOf = (route: RouteSpec): string => route.fn.split('-')[0]!;

const inGroup = (group: RouteGroup, route: RouteSpec): boolean =>
  (ROUTE_GROUPS[group] as readonly string[]).includes(capabilityOf(route));

/** Registers the property suite for the routes of `group`'s capabilities. */
export function describeRoutesProperty(group: RouteGroup): void {
  const routes = TOPOLOGY.routes.filter((r) => inGroup(group, r));
  describe(`every topology route of the ${group} group under generated and malformed input (issue 10 §4)`, () => {
    beforeAll(async () => {
      rt = await startLocalRuntime({
        template: testTemplate(),
        port: await freePort(),
        prefix: `t${randomBytes(4).toString('hex')}`,
        background: false,
      });
      spy = spyOnAwsCalls();
      // A real agent of the tenant, so agent callers and agent ids in paths reach the handlers' core.
      const reg = await rt.invoke('identity-api', {
        version: '2.0',
        routeKey: 'POST /v1/identity/agents',
        rawPath: '/v1/identity/agents',
        rawQueryString: '',
        headers: JSON_CT,
        requestContext: {
          requestId: randomUUID(),
          http: { method: 'POST', path: '/v1/identity/agents' },
          authorizer: { lambda: encodeAuthContext(authFor('admin')) },
        },
        body: JSON.stringify({
          platform: 'langchain',
          platform_native_id: 'props-1',
          owner: { oidc_sub: 'alice', email: 'alice@acme.com' },
        }),
        isBase64Encoded: false,
      });
      const created = JSON.parse(String((reg as APIGatewayProxyStructuredResultV2).body)) as {
        agent_id: string;
        spiffe_id: string;
      };
      expect(created.agent_id).toMatch(/^agt_/);
      seeded.agentId = created.agent_id;
      seeded.spiffeId = created.spiffe_id;
      // The recorder must see the handlers' commands, or skipping state reads would be blind.
      expect(spy.take().filter(isMutating).length, 'the AWS call recorder saw the registration write').toBeGreaterThan(
        0,
      );
      state = await stackStateReader(rt.stack);
      await state.drainEvents();
      last = await state.read();
    });
    afterAll(async () => {
      spy?.restore();
      await rt?.stop();
      const lines = [...tally].map(
        ([k, m]) =>
          `${k}: ${[...m]
            .sort(([a], [b]) => a - b)
            .map(([s, n]) => `${s}×${n}`)
            .join(' ')}`,
      );
      process.stdout.write(
        `routes-property (${group}): ${tally.size} routes, ${timing.fixed} deterministic invalid-input requests, then ${RUNS} runs each, seed ${SEED}; ${timing.requests} requests, ${timing.send.toFixed(0)} ms in handlers, ${timing.reads} state reads after mutating AWS calls in ${timing.read.toFixed(0)} ms (${timing.refusedAfterWriteAttempt} of them after a 4xx)\n${lines.join('\n')}\n`,
      );
    });

    it('every route of the topology belongs to exactly one group (a new capability fails here until it has one)', () => {
      for (const route of TOPOLOGY.routes) {
        const owners = Object.entries(ROUTE_GROUPS).filter(([, caps]) =>
          (caps as readonly string[]).includes(capabilityOf(route)),
        );
        expect(
          owners.map(([g]) => g),
          routeKey(route),
        ).toHaveLength(1);
      }
    });

    it('generates valid input for every schema of every route (a new schema kind fails here, loudly)', () => {
      for (const route of routes) {
        for (const [schema, mode] of [
          [route.body, 'json'],
          [route.query, 'query'],
        ] as const) {
          if (!schema) continue;
          const values = fc.sample(validArbitrary(schema, mode), { numRuns: 5, seed: SEED });
          for (const v of values)
            expect(schema.safeParse(v).success, `${routeKey(route)} ${mode}: ${JSON.stringify(v)}`).toBe(true);
        }
      }
    });

    /** A named example through the same send + check; returns the status for the example's own assertion. */
    const example = async (key: string, r: Omit<Req, 'note'>): Promise<number> => {
      const route = TOPOLOGY.routes.find((x) => routeKey(x) === key);
      if (!route) throw new Error(`no route ${key} in the topology`);
      const req = withShortPrint({ note: 'regression example', ...r });
      spy.take();
      const res = await send(route, req);
      await check(route, req, res, spy.take());
      return res.statusCode ?? 200;
    };

    it('the state reader and the recorder see a real write (a 201 registration): the 4xx check is not blind', async () => {
      const before = await state.read();
      spy.take();
      const route = TOPOLOGY.routes.find((x) => routeKey(x) === 'POST /v1/identity/agents')!;
      const res = await send(
        route,
        withShortPrint({
          role: 'admin',
          params: {},
          headers: JSON_CT,
          body: JSON.stringify({
            platform: 'langchain',
            platform_native_id: `probe-${randomUUID()}`,
            owner: { oidc_sub: 'bob' },
          }),
          note: 'probe',
        }),
      );
      expect(res.statusCode).toBe(201);
      expect(spy.take().filter(isMutating).length).toBeGreaterThan(0);
      expect(await state.drainEvents()).not.toEqual([]);
      last = await state.read();
      expect(stateDiff(before, last).some((l) => l.startsWith('table '))).toBe(true);
    });

    /** A regression example runs in the file of its route's group (each runs exactly once). */
    const regression = (key: string, title: string, fn: () => Promise<void>): void => {
      const route = TOPOLOGY.routes.find((x) => routeKey(x) === key);
      if (!route) throw new Error(`no route ${key} in the topology`);
      if (inGroup(group, route)) it(`regression (a 5xx this test found, fixed): ${title}`, fn);
    };

    // Regressions: 5xx this test found, each fixed.
    regression(
      'GET /v1/policies/bundles/{id}/diff/{prev_id}',
      'GET /v1/policies/bundles/{id}/diff/{prev_id} with a lone surrogate in a path parameter → 400 (was 500: URIError in S3BundleStore.keyOf)',
      async () => {
        expect(
          await example('GET /v1/policies/bundles/{id}/diff/{prev_id}', {
            role: 'auditor',
            params: { id: 'bnd_1', prev_id: '\uD800\u0000\uDFFF"' },
            headers: {},
          }),
        ).toBe(400);
      },
    );

    regression(
      'POST /v1/enforcement/log',
      'POST /v1/enforcement/log with decision_ms 1.58e-139 → 400 (was 500: DynamoDB number underflow)',
      async () => {
        const event = {
          agent_id: seeded.agentId,
          action_name: 'okta:users:deactivate',
          context_hash: 'h',
          decision: 'forbid',
          decision_ms: 1.5816373294802403e-139,
          pep_topology: 'sdk',
          pep_version: '1.0.0',
          occurred_at: '2026-12-01T10:00:00.000Z',
        };
        expect(
          await example('POST /v1/enforcement/log', {
            role: 'admin',
            params: {},
            headers: JSON_CT,
            body: JSON.stringify({ events: [event] }),
          }),
        ).toBe(400);
        expect(
          await example('POST /v1/enforcement/log', {
            role: 'admin',
            params: {},
            headers: JSON_CT,
            body: JSON.stringify({ events: [{ ...event, decision_ms: 1e200 }] }),
          }),
        ).toBe(400);
      },
    );

    regression(
      'PUT /v1/killswitch/platforms/{platform}',
      'PUT /v1/killswitch/platforms/{platform} with a 5 KB platform → 400 (was 500: DynamoDB sort key over 1024 bytes)',
      async () => {
        const body = JSON.stringify({ url: 'https://127.0.0.1:9/kill' });
        expect(
          await example('PUT /v1/killswitch/platforms/{platform}', {
            role: 'admin',
            params: { platform: 'é'.repeat(2560) },
            headers: JSON_CT,
            body,
          }),
        ).toBe(400);
      },
    );

    regression(
      'POST /v1/approvals/slack/interactions',
      'POST /v1/approvals/slack/interactions with payload=null → 401 (was 500: TypeError reading null.actions in ApprovalCallbacks.slack)',
      async () => {
        expect(
          await example('POST /v1/approvals/slack/interactions', {
            role: null,
            params: {},
            headers: { ...FORM_CT, 'x-slack-signature': 'v0=00', 'x-slack-request-timestamp': '1' },
            body: 'payload=null',
          }),
        ).toBe(401);
        expect(
          await example('POST /v1/approvals/slack/interactions', {
            role: null,
            params: {},
            headers: FORM_CT,
            body: 'payload=5',
          }),
        ).toBe(401);
      },
    );

    regression(
      'GET /v1/compliance/packages/{id}',
      'GET /v1/compliance/packages/{id} with an empty id → 400 (was 500: DynamoDB empty sort key)',
      async () => {
        expect(
          await example('GET /v1/compliance/packages/{id}', {
            role: 'admin',
            params: { id: '' },
            query: { artifact: 'manifest' },
            headers: {},
          }),
        ).toBe(400);
      },
    );

    regression(
      'POST /v1/actions',
      'a "__proto__" key deep in free-form params → 400, never silently dropped',
      async () => {
        const body =
          '{"connector":"okta","operation":"users:deactivate","params":{"user":{"__proto__":{"polluted":"yes"}}}}';
        expect(await example('POST /v1/actions', { role: 'agent', params: {}, headers: JSON_CT, body })).toBe(400);
      },
    );

    for (const route of routes) {
      it(`${routeKey(route)}: never 5xx; a 4xx is problem JSON and writes nothing`, { timeout: 180_000 }, async () => {
        const seen = new Map<number, number>();
        tally.set(routeKey(route), seen);
        for (const { req, refuse } of invalidCases(route)) {
          spy.take();
          const res = await send(route, req);
          const status = res.statusCode ?? 200;
          seen.set(status, (seen.get(status) ?? 0) + 1);
          timing.fixed++;
          await check(route, req, res, spy.take());
          if (refuse) expect(status, `${routeKey(route)} ← ${short(req)}`).toBeGreaterThanOrEqual(400);
        }
        await fc.assert(
          fc.asyncProperty(requestArb(route), async (r) => {
            const t = performance.now();
            spy.take();
            const res = await send(route, r);
            const sent = spy.take();
            timing.send += performance.now() - t;
            timing.requests++;
            seen.set(res.statusCode ?? 200, (seen.get(res.statusCode ?? 200) ?? 0) + 1);
            await check(route, r, res, sent);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
        // Completeness of the recorder: after the route's runs, a full read of this stack's own
        // resources must match the last one (a write the recorder did not see shows here). Secrets
        // and keys are account-wide and other suites create theirs meanwhile; writes to them by this
        // runtime are caught per request by the recorder, which sees every command this process sends.
        const now = await state.read();
        expect(
          stateDiff(last, now, { accountWide: false }),
          `${routeKey(route)}: state changed without a recorded mutating AWS call`,
        ).toEqual([]);
        last = now;
        expect(await state.drainEvents(), `${routeKey(route)}: bus events without a recorded PutEvents`).toEqual([]);
      });
    }
  });
}
