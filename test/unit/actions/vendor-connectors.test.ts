import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type Connector, type ConnectorContext } from '../../../lambdas/actions/core/model.js';
import { CONNECTORS, connectorCatalog } from '../../../lambdas/actions/connectors/index.js';
import { nextCursor } from '../../../lambdas/actions/connectors/vendor-http.js';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}
type Route = (s: Seen, res: ServerResponse) => void;

/** A loopback server speaking a vendor's API shape; `route` answers, every call is recorded. */
async function vendor(route: Route) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://v');
      const text = Buffer.concat(chunks).toString('utf8');
      const s = {
        method: req.method ?? 'GET',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(s);
      route(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
};

function ctxFor(config: Record<string, unknown>, secret: Record<string, string>): ConnectorContext {
  return {
    tenantId: 'acme',
    agentId: 'agt_1',
    actionId: 'act_1',
    correlationId: 'corr-1',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    config,
    secret: async () => secret,
    credentials: {
      awsCredentials: async () => Promise.reject(new Error('not used')),
    } as unknown as ConnectorContext['credentials'],
    fetch,
  };
}
const run = async (c: Connector, ctx: ConnectorContext, op: string, params: Record<string, unknown>) => {
  const parsed = c.operations[op]!.params.parse(params);
  return c.execute(ctx, op, parsed) as Promise<{ status: number; body: any; next_after?: string }>;
};

describe('Okta connector (Management API shapes: SSWS auth, Link pagination, X-Rate-Limit-Reset)', () => {
  const okta = CONNECTORS.get('okta')!;
  let srv: Awaited<ReturnType<typeof vendor>>;
  let limited = 0;
  const users = new Map<string, { id: string; status: string; profile: Record<string, unknown> }>([
    ['00u1', { id: '00u1', status: 'ACTIVE', profile: { login: 'john@acme.com', email: 'john@acme.com' } }],
  ]);
  beforeAll(async () => {
    srv = await vendor((s, res) => {
      if (s.headers.authorization !== 'SSWS tok')
        return json(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' });
      if (s.path === '/api/v1/groups' && s.method === 'GET') {
        if (limited++ === 0)
          return json(
            res,
            429,
            { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' },
            { 'x-rate-limit-reset': String(Math.ceil(Date.now() / 1000)) },
          );
        const after = s.query.get('after');
        const pageOne = [{ id: '00g1', profile: { name: 'Engineering' } }];
        const pageTwo = [{ id: '00g2', profile: { name: 'Finance' } }];
        return after === '00g1'
          ? json(res, 200, pageTwo)
          : json(res, 200, pageOne, {
              link: `<${srv.url}/api/v1/groups?limit=1>; rel="self", <${srv.url}/api/v1/groups?after=00g1&limit=1>; rel="next"`,
            });
      }
      let m = /^\/api\/v1\/groups\/([^/]+)(\/users)?$/.exec(s.path);
      if (m && s.method === 'GET')
        return m[1] === '00g1'
          ? json(res, 200, m[2] ? [users.get('00u1')] : { id: '00g1', profile: { name: 'Engineering' } })
          : json(res, 404, { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found: 00g9 (UserGroup)' });
      if (s.path === '/api/v1/users' && s.method === 'POST') {
        const b = s.body as { profile: Record<string, unknown> };
        const u = { id: '00u9', status: s.query.get('activate') === 'true' ? 'ACTIVE' : 'STAGED', profile: b.profile };
        users.set(u.id, u);
        return json(res, 200, u);
      }
      m = /^\/api\/v1\/users\/([^/]+)$/.exec(s.path);
      if (m && s.method === 'POST') {
        const u = users.get(m[1]!);
        if (!u) return json(res, 404, { errorCode: 'E0000007', errorSummary: 'Not found' });
        Object.assign(u.profile, (s.body as { profile: object }).profile);
        return json(res, 200, u);
      }
      if (s.path === '/api/v1/users/00u1/lifecycle/reset_password' && s.method === 'POST') return json(res, 200, {});
      return json(res, 500, { errorCode: 'E0000009', errorSummary: 'Internal Server Error' });
    });
  });
  afterAll(() => srv.close());
  const ctx = () => ctxFor({ base_url: srv.url }, { api_token: 'tok' });

  it('offers every operation the brief’s policy names, each with a suggested risk', () => {
    const ops = connectorCatalog(okta).operations;
    expect(ops.map((o) => o.name).sort()).toEqual(
      [
        'groups:list',
        'groups:read',
        'groups:readMembers',
        'users:create',
        'users:deactivate',
        'users:list',
        'users:read',
        'users:reset_password',
        'users:suspend',
        'users:update',
      ].sort(),
    );
    expect(Object.fromEntries(ops.map((o) => [o.name, o.suggested_risk]))).toMatchObject({
      'users:read': 'low',
      'users:create': 'medium',
      'users:deactivate': 'high',
    });
    expect(ops.find((o) => o.name === 'groups:readMembers')!.params).toMatchObject({
      type: 'object',
      required: ['group_id'],
    });
  });

  it('lists groups across pages with the Link header cursor, waiting out a 429 until X-Rate-Limit-Reset', async () => {
    const first = await run(okta, ctx(), 'groups:list', { limit: 1 });
    expect(first.body).toEqual([{ id: '00g1', profile: { name: 'Engineering' } }]);
    expect(first.next_after).toBe('00g1');
    const second = await run(okta, ctx(), 'groups:list', { limit: 1, after: first.next_after });
    expect(second.body[0].id).toBe('00g2');
    expect(second.next_after).toBeUndefined();
    expect(srv.seen.filter((s) => s.path === '/api/v1/groups').length).toBe(3); // the 429, then two pages
  });

  it('reads a group and its members; a missing group is a non-retryable okta_404 with Okta’s summary', async () => {
    expect((await run(okta, ctx(), 'groups:read', { group_id: '00g1' })).body.profile.name).toBe('Engineering');
    expect((await run(okta, ctx(), 'groups:readMembers', { group_id: '00g1', limit: 50 })).body[0].id).toBe('00u1');
    expect(srv.seen.at(-1)!.query.get('limit')).toBe('50');
    const err = await run(okta, ctx(), 'groups:read', { group_id: '00g9' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'okta_404', retryable: false });
    expect((err as Error).message).toContain('Resource not found');
  });

  it('creates (activated by default) and partially updates users with Okta’s bodies', async () => {
    const created = await run(okta, ctx(), 'users:create', {
      profile: { login: 'ann@acme.com', email: 'ann@acme.com', firstName: 'Ann', lastName: 'Lee' },
    });
    expect(created.body.status).toBe('ACTIVE');
    const post = srv.seen.find((s) => s.method === 'POST' && s.path === '/api/v1/users')!;
    expect(post.query.get('activate')).toBe('true');
    expect(post.body).toEqual({
      profile: { login: 'ann@acme.com', email: 'ann@acme.com', firstName: 'Ann', lastName: 'Lee' },
    });
    const updated = await run(okta, ctx(), 'users:update', { user_id: '00u9', profile: { title: 'Engineer' } });
    expect(updated.body.profile).toMatchObject({ login: 'ann@acme.com', title: 'Engineer' });
    expect(() => okta.operations['users:create']!.params.parse({ profile: { firstName: 'NoLogin' } })).toThrow(
      /login and email/,
    );
    expect(() => okta.operations['users:update']!.params.parse({ user_id: '../admin', profile: { a: 'b' } })).toThrow();
  });

  it('sends sendEmail on reset_password and the trace context on every call', async () => {
    await run(okta, ctx(), 'users:reset_password', { user_id: '00u1', send_email: true });
    const s = srv.seen.at(-1)!;
    expect(s.query.get('sendEmail')).toBe('true');
    expect(s.headers.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(s.headers['x-arx-correlation-id']).toBe('corr-1');
  });

  it('a 5xx that persists is retryable and bounded (three attempts)', async () => {
    const before = srv.seen.length;
    const err = await run(okta, ctx(), 'users:read', { user_id: '00u1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'okta_500', retryable: true });
    expect(srv.seen.length - before).toBe(3);
  });
});

describe('Datadog connector (API + application keys, site, X-RateLimit-Reset)', () => {
  const dd = CONNECTORS.get('datadog')!;
  let srv: Awaited<ReturnType<typeof vendor>>;
  const boards = new Map<string, Record<string, unknown>>();
  let throttled = false;
  beforeAll(async () => {
    srv = await vendor((s, res) => {
      if (s.headers['dd-api-key'] !== 'api' || s.headers['dd-application-key'] !== 'app')
        return json(res, 403, { errors: ['Forbidden'] });
      if (s.path === '/api/v1/dashboard' && s.method === 'GET') {
        if (!throttled) {
          throttled = true;
          return json(
            res,
            429,
            { errors: ['Rate limit of 20 requests in 60 seconds reached.'] },
            { 'x-ratelimit-reset': '0', 'x-ratelimit-limit': '20', 'x-ratelimit-period': '60' },
          );
        }
        return json(res, 200, { dashboards: [...boards.values()].map((b) => ({ id: b.id, title: b.title })) });
      }
      if (s.path === '/api/v1/dashboard' && s.method === 'POST') {
        const b = { ...(s.body as object), id: `abc-def-${String(boards.size).padStart(3, '0')}`, url: '/dashboard/x' };
        boards.set(b.id, b);
        return json(res, 200, b);
      }
      const m = /^\/api\/v1\/dashboard\/([^/]+)$/.exec(s.path);
      const b = m ? boards.get(m[1]!) : undefined;
      if (!b) return json(res, 404, { errors: ['Dashboard not found'] });
      if (s.method === 'GET') return json(res, 200, b);
      if (s.method === 'PUT') {
        Object.assign(b, s.body);
        return json(res, 200, b);
      }
      if (s.method === 'DELETE') {
        boards.delete(String(b.id));
        return json(res, 200, { deleted_dashboard_id: b.id });
      }
      return json(res, 405, { errors: ['Method Not Allowed'] });
    });
  });
  afterAll(() => srv.close());
  const ctx = () => ctxFor({ base_url: srv.url }, { api_key: 'api', application_key: 'app' });

  it('creates, reads, lists (through a 429), updates and deletes a dashboard', async () => {
    const created = await run(dd, ctx(), 'dashboards:create', {
      title: 'Agent spend',
      layout_type: 'ordered',
      widgets: [{ definition: { type: 'note', content: 'hi' } }],
    });
    const id = created.body.id as string;
    expect(srv.seen[0]!.body).toEqual({
      title: 'Agent spend',
      layout_type: 'ordered',
      widgets: [{ definition: { type: 'note', content: 'hi' } }],
    });
    expect((await run(dd, ctx(), 'dashboards:read', { dashboard_id: id })).body.title).toBe('Agent spend');
    expect((await run(dd, ctx(), 'dashboards:list', { filter_shared: false })).body.dashboards).toEqual([
      { id, title: 'Agent spend' },
    ]);
    expect(
      srv.seen
        .filter((s) => s.method === 'GET' && s.path === '/api/v1/dashboard')
        .map((s) => s.query.get('filter[shared]')),
    ).toEqual(['false', 'false']);
    await run(dd, ctx(), 'dashboards:update', {
      dashboard_id: id,
      title: 'Agent spend (daily)',
      layout_type: 'ordered',
      widgets: [],
    });
    expect(boards.get(id)!.title).toBe('Agent spend (daily)');
    expect(srv.seen.at(-1)!.body).not.toHaveProperty('dashboard_id');
    expect((await run(dd, ctx(), 'dashboards:delete', { dashboard_id: id })).body).toEqual({
      deleted_dashboard_id: id,
    });
    const err = await run(dd, ctx(), 'dashboards:read', { dashboard_id: id }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'datadog_404', retryable: false });
  });

  it('validates the config (a known site or a base URL, not both) and the dashboard id', () => {
    expect(dd.configSchema.safeParse({ site: 'datadoghq.eu' }).success).toBe(true);
    expect(dd.configSchema.safeParse({ site: 'evil.example.com' }).success).toBe(false);
    expect(dd.configSchema.safeParse({ site: 'datadoghq.eu', base_url: srv.url }).success).toBe(false);
    expect(dd.operations['dashboards:delete']!.params.safeParse({ dashboard_id: '../../x' }).success).toBe(false);
  });

  it('wrong keys are a non-retryable datadog_403 carrying Datadog’s error text', async () => {
    const err = await run(
      dd,
      ctxFor({ base_url: srv.url }, { api_key: 'api', application_key: 'wrong' }),
      'dashboards:list',
      {},
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'datadog_403', retryable: false });
    expect((err as Error).message).toContain('Forbidden');
  });
});

describe('nextCursor', () => {
  it('reads the after cursor of rel="next" only', () => {
    expect(nextCursor('<https://x/api/v1/users?after=abc&limit=2>; rel="next"')).toBe('abc');
    expect(nextCursor('<https://x/api/v1/users?limit=2>; rel="self"')).toBeUndefined();
    expect(nextCursor(null)).toBeUndefined();
  });
});

describe('F12a with vendor sites', () => {
  it('a Datadog site binds its secret to that API origin like a base_url does', async () => {
    const { configOrigin } = await import('../../../lambdas/actions/core/guards.js');
    expect(configOrigin({ site: 'datadoghq.eu' })).toBe('https://api.datadoghq.eu');
    expect(configOrigin({ base_url: 'https://dd-proxy.example.com/x' })).toBe('https://dd-proxy.example.com');
    expect(configOrigin({})).toBeNull();
  });
});
