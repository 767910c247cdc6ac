import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createSingleTable } from '../../support/tables.js';

/** A control table shaped like the stack's (pk/sk, gsi1, gsi2), uniquely named for this suite. */
export async function createControlTable(prefix: string): Promise<string> {
  const name = `${prefix}-control-${randomBytes(4).toString('hex')}`;
  await createSingleTable(name);
  return name;
}

export interface RecordedCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A loopback HTTP server that records every call and answers with `respond`. */
export async function recordingServer(
  respond: (c: RecordedCall) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>,
): Promise<{ url: string; calls: RecordedCall[]; close(): Promise<void> }> {
  const calls: RecordedCall[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call: RecordedCall = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
        ),
        body: Buffer.concat(chunks).toString('utf8'),
      };
      calls.push(call);
      void Promise.resolve(respond(call)).then((r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, calls, close: () => new Promise((r) => server.close(() => r())) };
}

/** Answers Okta Management API paths the way Okta does (the subset ARX uses). */
export function fakeOkta(token: string) {
  const users = new Map<string, { id: string; status: string; profile: { login: string; email: string } }>([
    ['00u1', { id: '00u1', status: 'ACTIVE', profile: { login: 'john@acme.com', email: 'john@acme.com' } }],
    ['00u2', { id: '00u2', status: 'ACTIVE', profile: { login: 'jane@acme.com', email: 'jane@acme.com' } }],
    [
      '00u3',
      {
        id: '00u3',
        status: 'ACTIVE',
        profile: { login: 'stale.contractor@acme.com', email: 'stale.contractor@acme.com' },
      },
    ],
  ]);
  const find = (idOrLogin: string) =>
    users.get(idOrLogin) ?? [...users.values()].find((u) => u.profile.login === idOrLogin);
  const handler = (c: RecordedCall): { status: number; body?: unknown } => {
    if (c.headers.authorization !== `SSWS ${token}`)
      return { status: 401, body: { errorCode: 'E0000011', errorSummary: 'Invalid token provided' } };
    const u = new URL(c.path, 'http://x');
    if (c.method === 'GET' && u.pathname === '/api/v1/users') {
      const filter = u.searchParams.get('filter');
      const m = filter ? /status eq "(\w+)"/.exec(filter) : null;
      return { status: 200, body: [...users.values()].filter((x) => !m || x.status === m[1]) };
    }
    let m = /^\/api\/v1\/users\/([^/]+)$/.exec(u.pathname);
    if (c.method === 'GET' && m) {
      const user = find(decodeURIComponent(m[1]!));
      return user
        ? { status: 200, body: user }
        : { status: 404, body: { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found' } };
    }
    m = /^\/api\/v1\/users\/([^/]+)\/lifecycle\/(deactivate|suspend|reset_password)$/.exec(u.pathname);
    if (c.method === 'POST' && m) {
      const user = find(decodeURIComponent(m[1]!));
      if (!user) return { status: 404, body: { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found' } };
      if (m[2] === 'deactivate') user.status = 'DEPROVISIONED';
      if (m[2] === 'suspend') user.status = 'SUSPENDED';
      if (m[2] === 'reset_password') return { status: 200, body: { resetPasswordUrl: 'https://okta.example/reset/x' } };
      return { status: 200, body: {} };
    }
    return {
      status: 404,
      body: { errorCode: 'E0000022', errorSummary: 'The endpoint does not support the provided HTTP method' },
    };
  };
  return { users, handler };
}
