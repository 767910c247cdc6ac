/**
 * MCP 2026-07-28 (stateless, per-request `_meta` envelope, no `initialize`, no session) for the
 * gateway, through the v2 server package (`@modelcontextprotocol/server`).
 *
 * A 2026-07-28 request is recognised by the v2 SDK's own classifier (`isLegacyRequest`: the request
 * carries the `io.modelcontextprotocol/protocolVersion` envelope claim in `params._meta`, or an
 * `MCP-Protocol-Version` header naming a modern revision); anything else stays on the gateway's
 * v1 (`@modelcontextprotocol/sdk`) path.
 *
 * Governance is not re-implemented here: every modern request gets a fresh gateway session
 * (`newSession()`: a fresh v1 governed server and a fresh upstream client, GHSA-345p-7cg4-v4c7)
 * and a fresh v2 server in front of it, joined by an in-memory transport. The v2 server only
 * translates: each request it accepts is forwarded unchanged to the governed session, so list
 * filtering, decisions, enforcement records, pins, held calls and spans are the v1 path's own code.
 * Both are closed when the exchange ends.
 *
 * Not carried on 2026-07-28: server → client requests (sampling, elicitation: the bridge declares
 * no such capability, so the governed session refuses and records them), logging and list-change
 * notifications and resource subscriptions (no session stream; `subscriptions/listen` is not
 * served). Progress of a `tools/call` (upstream progress and held-call ticks) is relayed under the
 * client's own token, on the request's SSE stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  CLIENT_INFO_META_KEY,
  createMcpHandler,
  isLegacyRequest,
  type McpHttpHandler,
  ProtocolError,
  Server,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { GatewaySession } from './index.js';

/** The stateless protocol revisions served through the v2 server package. */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

/** Results are passed through as the governed session produced them (its server validated them). */
const Loose = z.looseObject({});

/** The methods a modern request may carry to the gateway, by the capability that enables them. */
const FORWARDED = {
  tools: ['tools/list', 'tools/call'],
  prompts: ['prompts/list', 'prompts/get'],
  resources: ['resources/list', 'resources/templates/list', 'resources/read'],
  completions: ['completion/complete'],
} as const;

export interface ModernHandler {
  /** Answers one Streamable HTTP request of the 2026-07-28 revision. */
  fetch(req: Request, parsedBody?: unknown): Promise<Response>;
  close(): Promise<void>;
}

/** Whether the v2 SDK routes this request to its 2026-07-28 path (the envelope claim or a modern header). */
export async function isModernRequest(req: Request, parsedBody?: unknown): Promise<boolean> {
  return !(await isLegacyRequest(req, parsedBody));
}

/** The client's name and version from a request's envelope, when it sent them. */
function clientInfoOf(body: unknown): { name: string; version: string } | undefined {
  const meta = (body as { params?: { _meta?: Record<string, unknown> } } | undefined)?.params?._meta;
  const info = meta?.[CLIENT_INFO_META_KEY] as { name?: unknown; version?: unknown } | undefined;
  return typeof info?.name === 'string' && typeof info.version === 'string'
    ? { name: info.name, version: info.version }
    : undefined;
}

/**
 * A 2026-07-28 handler over `newSession`: a fresh governed session and a fresh v2 server per
 * request. `responseMode` `auto` streams progress as SSE (the listener); `json` never streams (hosted).
 */
export function createModernHandler(
  newSession: () => Promise<GatewaySession>,
  options: { responseMode: 'auto' | 'json'; name: string; version: string },
): ModernHandler {
  const bodies = new WeakMap<Request, unknown>();
  const handler: McpHttpHandler = createMcpHandler(
    async (ctx) => {
      const body = ctx.requestInfo ? bodies.get(ctx.requestInfo) : undefined;
      const method = (body as { method?: unknown } | undefined)?.method;
      const session = await newSession();
      // The client names itself on every 2026 request; it is discovery evidence once, at server/discover.
      if (method !== 'server/discover') session.server.oninitialized = undefined;
      const bridge = new Client(clientInfoOf(body) ?? { name: 'mcp-client-2026-07-28', version: '0' }, {
        capabilities: {},
      });
      try {
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
        await session.server.connect(serverSide);
        await bridge.connect(clientSide);
      } catch (e) {
        await bridge.close().catch(() => undefined);
        await session.close();
        throw e;
      }
      const up = bridge.getServerCapabilities() ?? {};
      // No session stream on 2026-07-28: list changes, subscriptions and logging are not offered.
      const capabilities: ServerCapabilities = {
        ...(up.tools ? { tools: {} } : {}),
        ...(up.prompts ? { prompts: {} } : {}),
        ...(up.resources ? { resources: {} } : {}),
        ...(up.completions ? { completions: {} } : {}),
      };
      const instructions = bridge.getInstructions();
      const server = new Server(
        { name: options.name, version: options.version },
        {
          capabilities,
          ...(instructions ? { instructions } : {}),
          supportedProtocolVersions: [...MODERN_PROTOCOL_VERSIONS],
          // Lists are filtered per principal: never cached for anyone else, nor reused later.
          cacheHints: {
            'tools/list': { ttlMs: 0, cacheScope: 'private' },
            'prompts/list': { ttlMs: 0, cacheScope: 'private' },
            'resources/list': { ttlMs: 0, cacheScope: 'private' },
            'resources/templates/list': { ttlMs: 0, cacheScope: 'private' },
            'resources/read': { ttlMs: 0, cacheScope: 'private' },
            'server/discover': { ttlMs: 0, cacheScope: 'private' },
          },
        },
      );
      for (const [capability, methods] of Object.entries(FORWARDED))
        if (capabilities[capability as keyof typeof FORWARDED])
          for (const m of methods)
            server.setRequestHandler(m, ((req: { params?: Record<string, unknown> }, c: ServerContext) =>
              forward(bridge, m, req.params ?? {}, c)) as never);
      server.onclose = () => {
        void bridge
          .close()
          .catch(() => undefined)
          .then(() => session.close());
      };
      return server;
    },
    { legacy: 'reject', responseMode: options.responseMode },
  );
  return {
    async fetch(req, parsedBody) {
      if (parsedBody !== undefined) bodies.set(req, parsedBody);
      return handler.fetch(req, parsedBody === undefined ? {} : { parsedBody });
    },
    close: () => handler.close(),
  };
}

/**
 * One request to the governed session. A `tools/call` with a progress token has its progress
 * (the upstream's and the held call's) relayed under that token; a cancelled request cancels the
 * governed call; a JSON-RPC error comes back with its code and message.
 */
async function forward(
  bridge: Client,
  method: string,
  params: Record<string, unknown>,
  ctx: ServerContext,
): Promise<Record<string, unknown>> {
  const meta = params._meta as Record<string, unknown> | undefined;
  const token = meta?.progressToken as string | number | undefined;
  const { progressToken: _, ...rest } = meta ?? {};
  const sent = { ...params, ...(meta ? { _meta: rest } : {}) };
  if (sent._meta && Object.keys(sent._meta).length === 0) delete sent._meta;
  try {
    return await bridge.request({ method, params: sent } as never, Loose, {
      signal: ctx.mcpReq.signal,
      // Held calls and long upstream operations: bounded by the gateway's own hold and upstream timeouts.
      timeout: 15 * 60_000,
      ...(token !== undefined
        ? {
            resetTimeoutOnProgress: true,
            onprogress: (p) =>
              void ctx.mcpReq
                .notify({ method: 'notifications/progress', params: { ...p, progressToken: token } })
                .catch(() => undefined),
          }
        : {}),
    });
  } catch (e) {
    if (e instanceof McpError) throw new ProtocolError(e.code, e.message.replace(/^MCP error -?\d+: /, ''), e.data);
    throw e;
  }
}

/**
 * Serves a POST of the Node listener on the modern path when it is a 2026-07-28 request: true when
 * it answered (streaming an SSE answer as it comes), false to leave it to the v1 path.
 */
export async function serveModernNode(
  modern: ModernHandler,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<boolean> {
  if (req.method !== 'POST' || body === undefined) return false;
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const abort = new AbortController();
  const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/mcp'}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: abort.signal,
  });
  if (!(await isModernRequest(request, body))) return false;
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const answer = await modern.fetch(request, body);
  const out: Record<string, string> = {};
  answer.headers.forEach((v, k) => {
    out[k] = v;
  });
  res.writeHead(answer.status, out);
  if (answer.body) {
    const reader = answer.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
  }
  res.end();
  return true;
}
