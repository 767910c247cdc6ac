/**
 * The console and the dev issuer's sign-in endpoints on the local runtime's origin:
 * `/console/*` (built in memory by esbuild on first request), `/console/config.json` (where the
 * API and the issuer are), and the dev issuer's OpenID metadata, `/authorize` and `/token`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DevAuthorization, type DevIdp } from './dev-idp.js';
import type { ConsoleFile } from '../console/build.js';

export const CONSOLE_CLIENT_ID = 'arx-console';

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) break;
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Answers the console's and the dev issuer's paths; false for anything else. */
export function consoleRoutes(opts: {
  url: string;
  idp: DevIdp;
  tenant: string;
  auditBucket?: string;
  /** Lifetime of the tokens the dev issuer gives the console. @default 3600 */
  tokenTtlSeconds?: number;
}) {
  const auth = new DevAuthorization(
    opts.idp,
    opts.tenant,
    [
      // The same console reached as localhost or as 127.0.0.1.
      {
        clientId: CONSOLE_CLIENT_ID,
        redirectUris: [`${opts.url}/console/`, `${opts.url.replace('//127.0.0.1:', '//localhost:')}/console/`],
      },
    ],
    Date.now,
    opts.tokenTtlSeconds,
  );
  let assets: Promise<Map<string, ConsoleFile>> | undefined;
  const config = JSON.stringify({
    api_url: '',
    issuer: opts.idp.issuer,
    client_id: CONSOLE_CLIENT_ID,
    roles_claim: 'arx_roles',
    tenant_claim: 'arx_tenant',
    scope: 'openid email',
    ...(opts.auditBucket ? { audit_bucket: opts.auditBucket } : {}),
  });
  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  return async (req: IncomingMessage, res: ServerResponse, u: URL, method: string): Promise<boolean> => {
    const p = u.pathname;
    if (p === '/.dev-idp/.well-known/openid-configuration' && method === 'GET') {
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(auth.discovery()));
      return true;
    }
    if (p === '/.dev-idp/authorize' && (method === 'GET' || method === 'POST')) {
      const params = method === 'GET' ? u.searchParams : await readForm(req);
      const a = auth.authorize(params, method);
      send(res, a.status, a.headers, a.body);
      return true;
    }
    if (p === '/.dev-idp/token' && method === 'POST') {
      const a = await auth.token(await readForm(req));
      send(res, a.status, a.headers, a.body);
      return true;
    }
    if (p === '/console' && method === 'GET') {
      send(res, 308, { location: `/console/${u.search}` }, '');
      return true;
    }
    if (!p.startsWith('/console/') || method !== 'GET') return false;
    const name = p.slice('/console/'.length) || 'index.html';
    if (name === 'config.json') {
      send(res, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, config);
      return true;
    }
    if (!assets) {
      const { buildConsole } = await import('../console/build.js');
      assets = buildConsole();
      assets.catch(() => {
        assets = undefined;
      });
    }
    const f = (await assets).get(name);
    if (!f) {
      send(res, 404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }, 'Not Found');
      return true;
    }
    send(res, 200, { 'content-type': f.contentType, 'cache-control': 'no-cache', ...SECURITY_HEADERS }, f.body);
    return true;
  };
}
