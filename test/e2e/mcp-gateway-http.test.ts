import { request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { type api, eventually } from '../support/runtime.js';
import { arxOf, startMcpArx } from '../support/mcp-arx.js';
import { createMcpGateway, type McpGateway } from '../../sdk/mcp-gateway/index.js';

const BIN = join(resolve(__dirname, '../..'), 'node_modules/.bin');
const POLICY = `
- name: memory-tools
  connector: memory-mcp
  operations:
    "tools:read_graph": low
    "tools:create_entities": high
  risk_max: high
`;

/** The official SDK client over Streamable HTTP → createMcpGateway().listen() → server-memory (stdio). */
describe('MCP gateway over Streamable HTTP (library, official SDK client, server-memory)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let approver: string;
  let gw: McpGateway;
  let srv: { url: string; close(): Promise<void> };
  let agentId: string;
  const dir = mkdtempSync(join(tmpdir(), 'arx-mcp-http-'));
  const memFile = join(dir, 'memory.jsonl');
  const graph = () => (existsSync(memFile) ? readFileSync(memFile, 'utf8') : '');
  const clients: Client[] = [];
  const connect = async () => {
    const c = new Client({ name: 'http-e2e', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const arx = await startMcpArx(POLICY, ['memory-mcp']);
    ({ rt, call, admin, approver } = arx);
    const reg = { json: await arx.agent('mcp-http') };
    agentId = reg.json.agent_id;
    gw = await createMcpGateway({
      connector: 'memory-mcp',
      upstream: { command: join(BIN, 'mcp-server-memory'), env: { MEMORY_FILE_PATH: memFile } },
      arx: { apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token },
      holdMs: 15_000,
    });
    srv = await gw.listen('127.0.0.1', 0);
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await srv?.close();
    await gw?.close();
    await rt?.stop();
  });

  it('filters tools/list per principal, marks responses private, and runs an autonomous call', async () => {
    const c = await connect();
    expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(['create_entities', 'read_graph']);
    const before = gw.stats.upstreamCalls;
    const r = (await c.callTool({ name: 'read_graph', arguments: {} })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(gw.stats.upstreamCalls).toBe(before + 1);
    const raw = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('cache-control')).toBe('private, no-cache, no-store, no-transform');
    expect(raw.headers.get('mcp-session-id')).toBeTruthy();
    await raw.body?.cancel();
  });

  it('never calls the upstream for a refused call (upstream call counter)', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    const r = await c.callTool({ name: 'delete_entities', arguments: { entityNames: ['x'] } });
    expect(arxOf(r)).toMatchObject({ status: 'denied' });
    expect(gw.stats.upstreamCalls).toBe(before);
  });

  it('holds a call with progress notifications and returns the upstream result when approved during the hold', async () => {
    const c = await connect();
    const args = { entities: [{ name: 'bob', entityType: 'person', observations: [] }] };
    const progress: unknown[] = [];
    const running = c.callTool({ name: 'create_entities', arguments: args }, undefined, {
      onprogress: (p) => progress.push(p),
      timeout: 60_000,
    });
    const approval = await eventually(async () => {
      const items = (await call('GET', '/v1/approvals?status=pending', { token: approver })).json.items as any[];
      return items.find((i) => i.connector === 'memory-mcp' && i.params.arguments.entities[0].name === 'bob');
    }, 10_000);
    expect(graph()).not.toContain('bob');
    await eventually(async () => progress.length > 0, 10_000);
    expect(
      (
        await call('POST', `/v1/approvals/${approval.approval_id}/decision`, {
          token: approver,
          body: { decision: 'approve', reason: 'ok' },
        })
      ).status,
    ).toBe(200);
    const r = (await running) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect((r.content[0] as { text: string }).text).toContain('bob');
    expect(graph().match(/"name":"bob"/g)).toHaveLength(1);
  });

  it('gives every session its own server and upstream, and rejects unknown sessions', async () => {
    const sessions = gw.stats.sessions;
    await connect();
    await connect();
    expect(gw.stats.sessions).toBe(sessions + 2);
    const stale = await fetch(srv.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': 'nope',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(stale.status).toBe(404);
    const noInit = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(noInit.status).toBe(400);
    const badJson = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(badJson.status).toBe(400);
    expect((await fetch(srv.url.replace('/mcp', '/other'))).status).toBe(404);
  });

  it('refuses a request whose Host or Origin names another host (DNS rebinding), before any session', async () => {
    // Node's fetch will not set Host, so this speaks HTTP directly, as a rebound browser would arrive.
    const post = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((done, fail) => {
        const u = new URL(srv.url);
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'rebind', version: '1' } },
        });
        const r = request(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
          },
          (res) => {
            let b = '';
            res.on('data', (c) => (b += c));
            res.on('end', () => done({ status: res.statusCode ?? 0, body: b }));
          },
        );
        r.on('error', fail);
        r.end(body);
      });
    const sessions = gw.stats.sessions;
    const evil = await post({ host: 'evil.example.com', origin: 'http://evil.example.com' });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error.message).toBe('Invalid Host header: evil.example.com');
    const port = new URL(srv.url).port;
    const badOrigin = await post({ host: `127.0.0.1:${port}`, origin: 'https://attacker.example' });
    expect(badOrigin.status).toBe(403);
    expect(JSON.parse(badOrigin.body).error.message).toBe('Invalid Origin header: https://attacker.example');
    expect(gw.stats.sessions).toBe(sessions);
    // The loopback names are answered, with or without an Origin.
    expect((await post({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await post({ host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it("reports each client's initialize to ARX: the agent's MCP client shows up as mcp_handshake evidence", async () => {
    await connect();
    const item = await eventually(
      async () =>
        (await call('GET', `/v1/discovery/agents?source=mcp_handshake&q=${agentId}`, { token: admin })).json.items[0],
      20_000,
      250,
    );
    expect(item).toMatchObject({
      platform: 'mcp',
      platform_native_id: `${agentId}/http-e2e`,
      arx_agent_id: agentId,
      sanctioned: true,
    });
    expect(item.sources[0]).toMatchObject({ source: 'mcp_handshake', origin: 'mcp:gateway:memory-mcp' });
    expect(item.sources[0].signals).toContain('mcp:clientInfo=http-e2e@1.0.0');
  });
});
