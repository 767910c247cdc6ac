import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { DecisionRequest } from '../../../lambdas/shared/ports.js';
import type { TenantBundlePdp } from '../../../lambdas/policy/index.js';

const MAX_BODY = 64 * 1024;

/**
 * Who the local caller is (F21a): the extension never trusts the principal id a request names.
 * Either the function is bound to one agent at deploy time (ARX_AGENT_ID, in the extension's own
 * environment), or each request carries the agent's JWT-SVID (`authorization: Bearer …`).
 */
export interface CallerIdentity {
  /** The agent the caller is, or why it is refused. */
  agentOf(headers: IncomingMessage['headers']): Promise<{ agentId: string } | { error: string }>;
}

/** The function is bound to one agent: it may only ask about that agent. */
export class BoundIdentity implements CallerIdentity {
  constructor(private readonly agentId: string) {}
  async agentOf(): Promise<{ agentId: string }> {
    return { agentId: this.agentId };
  }
}

/** Each request carries the agent's SVID, verified against the tenant's published keys. */
export class SvidIdentity implements CallerIdentity {
  constructor(
    private readonly verifier: {
      verify(token: string, o: { audience: string }): Promise<{ tenantId: string; agentId: string }>;
    },
    private readonly tenantId: string,
    private readonly audience = 'arx',
  ) {}
  async agentOf(headers: IncomingMessage['headers']): Promise<{ agentId: string } | { error: string }> {
    const h = headers.authorization;
    const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(h) : null;
    if (!m) return { error: 'an agent SVID is required (authorization: Bearer <svid>)' };
    try {
      const svid = await this.verifier.verify(m[1]!, { audience: this.audience });
      if (svid.tenantId !== this.tenantId) return { error: 'the SVID belongs to another tenant' };
      return { agentId: svid.agentId };
    } catch {
      return { error: 'the SVID is not valid' };
    }
  }
}

export interface PdpServerDeps {
  readonly tenantId: string;
  readonly pdp: Pick<TenantBundlePdp, 'decide' | 'live' | 'lastError'>;
  readonly health: () => Record<string, unknown>;
  /** How the caller proves which agent it is (F21a). */
  readonly identity: CallerIdentity;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

/** Validates the wire request; returns an error message or the request. */
export function parseDecideBody(raw: string, tenantId: string): DecisionRequest | string {
  let b: unknown;
  try {
    b = JSON.parse(raw);
  } catch {
    return 'body is not JSON';
  }
  if (!b || typeof b !== 'object') return 'body must be an object';
  const o = b as Record<string, unknown>;
  const p = o.principal as { type?: unknown; id?: unknown } | undefined;
  if (p?.type !== 'Agent' || typeof p.id !== 'string' || !p.id) return 'principal must be {type:"Agent", id}';
  if (typeof o.action !== 'string' || !/^[a-z0-9][a-z0-9_-]*:/.test(o.action))
    return 'action must be connector:resource:verb';
  if (o.tenantId !== undefined && o.tenantId !== tenantId) return 'this enforcement point serves another tenant';
  const r = o.resource as { type?: unknown; id?: unknown } | undefined;
  if (r !== undefined && (typeof r.type !== 'string' || typeof r.id !== 'string')) return 'resource must be {type, id}';
  if (o.context !== undefined && (typeof o.context !== 'object' || o.context === null || Array.isArray(o.context)))
    return 'context must be an object';
  return {
    tenantId,
    principal: { type: 'Agent', id: p.id },
    action: o.action,
    ...(r ? { resource: { type: r.type as string, id: r.id as string } } : {}),
    ...(o.context ? { context: o.context as Record<string, unknown> } : {}),
  };
}

/**
 * Localhost decision endpoint for the function: `POST /v1/decide` → Decision, `GET /v1/health`.
 * Binds 127.0.0.1 only. Bad requests get 400; every evaluated request gets 200 with the decision
 * (a forbid is a decision, not an error).
 */
export function startPdpServer(deps: PdpServerDeps, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/v1/health') return send(res, 200, deps.health());
        if (req.method !== 'POST' || req.url !== '/v1/decide') return send(res, 404, { error: 'not found' });
        const parsed = parseDecideBody(await read(req), deps.tenantId);
        if (typeof parsed === 'string') return send(res, 400, { error: parsed });
        const who = await deps.identity.agentOf(req.headers);
        if ('error' in who) return send(res, 401, { error: who.error });
        if (who.agentId !== parsed.principal.id)
          return send(res, 403, { error: 'the caller may only ask about its own agent' });
        const bearer =
          typeof req.headers.authorization === 'string'
            ? /^Bearer (.+)$/.exec(req.headers.authorization)?.[1]
            : undefined;
        const meta = {
          ...(bearer ? { token: bearer } : {}),
          ...(typeof req.headers['x-correlation-id'] === 'string'
            ? { correlation_id: req.headers['x-correlation-id'] }
            : {}),
          ...(typeof req.headers.traceparent === 'string'
            ? { trace_id: req.headers.traceparent.split('-')[1] ?? '' }
            : {}),
        };
        send(res, 200, await (deps.pdp as TenantBundlePdp).decide(parsed, meta));
      } catch {
        // no internal detail on the wire (F31); the function falls back to the in-process PDP
        send(res, 500, { error: 'decision failed' });
      }
    })();
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
