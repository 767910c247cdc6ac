/**
 * Issue 13's push sources end to end on the local runtime: OTLP spans (the OpenTelemetry JS SDK's
 * exporter) naming an unknown `gen_ai.agent.id` become an `otlp_inference` agent, and an MCP client's
 * `initialize` through the hosted gateway (the official MCP SDK client) an `mcp_handshake` record,
 * both through the `discovery.evidence` event and its consumer. With the bus down, ingest and the MCP
 * call still succeed and the evidence waits in the outbox.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { ArxClient } from '../../sdk/index.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';

const tag = randomBytes(4).toString('hex');
const CONNECTOR = 'notes-mcp';

/** A real MCP upstream over Streamable HTTP (the official SDK's server) with one tool. */
async function startUpstream() {
  const http: HttpServer = createServer(async (req, res) => {
    const server = new Server({ name: 'notes', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'read', description: 'Reads a note', inputSchema: { type: 'object' as const } }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: () => new Promise<void>((r) => http.close(() => r())),
  };
}

/** Sends two GenAI spans for `agentId` (resource gen_ai.agent.id) in one batch with the OTel SDK's OTLP/HTTP exporter. */
async function exportSpans(url: string, token: string, agentId: string, agentName: string): Promise<void> {
  const exporter = new OTLPTraceExporter({
    url: `${url}/v1/otlp/v1/traces`,
    headers: { authorization: `Bearer ${token}` },
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'collector-fed',
      'gen_ai.agent.id': agentId,
      'gen_ai.agent.name': agentName,
    }),
    // One export for both spans: discovery gets one item per agent per batch.
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('e2e-discovery');
  for (const op of ['chat', 'execute_tool']) {
    tracer
      .startSpan(`${op} x`, {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.operation.name': op, 'gen_ai.provider.name': 'anthropic' },
      })
      .end();
  }
  await provider.forceFlush();
  await provider.shutdown();
}

/** Every spans export answered 200 without a partial rejection (the exporter reports failures here). */
async function exportOk(url: string, token: string, agentId: string): Promise<void> {
  const res = await fetch(`${url}/v1/otlp/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'gen_ai.agent.id', value: { stringValue: agentId } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: randomBytes(16).toString('hex'),
                  spanId: randomBytes(8).toString('hex'),
                  name: 'chat',
                  kind: 3,
                  startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                  endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
                  attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
                },
              ],
            },
          ],
        },
      ],
    }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).not.toHaveProperty('partialSuccess.rejectedSpans');
}

async function register(call: ReturnType<typeof api>, admin: string, url: string) {
  const reg = await call('POST', '/v1/identity/agents', {
    token: admin,
    body: {
      platform: 'custom',
      platform_native_id: `disc-${randomBytes(4).toString('hex')}`,
      name: 'discovery e2e agent',
      owner: { oidc_sub: 'owner-1', email: 'owner1@example.com' },
    },
  });
  expect(reg.status).toBe(201);
  const svid = await new ArxClient({ apiUrl: url, bootstrapToken: reg.json.bootstrap_token }).token();
  return { agentId: reg.json.agent_id as string, svid };
}

async function mcpClient(url: string, svid: string, name: string, version: string): Promise<Client> {
  const client = new Client({ name, version }, { capabilities: { roots: { listChanged: true } } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/v1/mcp/${CONNECTOR}`), {
      requestInit: { headers: { authorization: `Bearer ${svid}` } },
    }),
  );
  return client;
}

describe('discovery from OTLP spans and MCP handshakes (e2e)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  const clients: Client[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    const put = await call('PUT', `/v1/connectors/${CONNECTOR}`, {
      token: admin,
      body: { config: { kind: 'mcp', url: upstream.url } },
    });
    expect(put.status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await rt?.stop();
    await upstream?.close();
  });

  it('spans naming an unknown gen_ai.agent.id make an unsanctioned otlp_inference agent, forbidden by the PDP; spans of a registered agent make none', async () => {
    const known = await register(call, admin, rt.url);
    // A collector (admin token) forwards spans of a registered agent, then of one ARX never saw.
    await exportSpans(rt.url, admin, known.agentId, 'registered one');
    const shadowId = `support-bot-${tag}`;
    await exportSpans(rt.url, admin, shadowId, `Support bot ${tag}`);
    const item = await eventually(
      async () => {
        const r = await call('GET', `/v1/discovery/agents?source=otlp_inference&q=${shadowId}`, { token: admin });
        expect(r.status).toBe(200);
        return r.json.items[0];
      },
      30_000,
      250,
    );
    expect(item).toMatchObject({
      kind: 'discovered',
      platform: 'otel',
      platform_native_id: shadowId,
      name: `Support bot ${tag}`,
      source: 'otlp_inference',
      sanctioned: false,
      owner: 'unknown',
      observed_actions_30d: 2,
      declared_capabilities: ['gen_ai:chat', 'gen_ai:execute_tool'],
    });
    expect(item.sources).toEqual([expect.objectContaining({ source: 'otlp_inference', origin: 'otlp' })]);
    expect(item.confidence).toBeGreaterThan(0);
    // Unsanctioned until adopted: the decision point forbids it, by its discovered id and its native id.
    for (const id of [item.id, shadowId]) {
      const d = await call('POST', '/v1/policies/evaluate', {
        token: admin,
        body: { principal: { type: 'Agent', id }, action: 'okta:users:read' },
      });
      expect(d.status).toBe(200);
      expect(d.json.effect).toBe('forbid');
    }
    // The registered agent's spans (sent first, same path) produced no discovered record.
    const none = await call('GET', `/v1/discovery/agents?source=otlp_inference&q=${known.agentId}`, { token: admin });
    expect(none.json.items).toEqual([]);
  });

  it("an MCP initialize through the hosted gateway records the agent's client (mcp_handshake); a second handshake merges", async () => {
    const agent = await register(call, admin, rt.url);
    const client = await mcpClient(rt.url, agent.svid, `notes-client-${tag}`, '1.0.0');
    clients.push(client);
    // No policy names the connector's tools yet: the list is empty, but the call went through.
    expect((await client.listTools()).tools).toEqual([]);
    const q = `/v1/discovery/agents?source=mcp_handshake&q=${agent.agentId}`;
    const first = await eventually(async () => (await call('GET', q, { token: admin })).json.items[0], 30_000, 250);
    expect(first).toMatchObject({
      platform: 'mcp',
      platform_native_id: `${agent.agentId}/notes-client-${tag}`,
      name: `notes-client-${tag}`,
      source: 'mcp_handshake',
      sanctioned: true,
      arx_agent_id: agent.agentId,
      declared_capabilities: [`mcp-client:notes-client-${tag}`, 'mcp:roots'],
    });
    expect(first.sources).toHaveLength(1);
    expect(first.sources[0]).toMatchObject({ source: 'mcp_handshake', origin: `mcp:hosted:${CONNECTOR}` });
    expect(first.sources[0].signals).toContain(`mcp:clientInfo=notes-client-${tag}@1.0.0`);

    const again = await mcpClient(rt.url, agent.svid, `notes-client-${tag}`, '1.0.1');
    clients.push(again);
    const merged = await eventually(
      async () => {
        const items = (await call('GET', q, { token: admin })).json.items;
        return items.length === 1 && items[0].sources[0].signals.includes(`mcp:clientInfo=notes-client-${tag}@1.0.1`)
          ? items[0]
          : null;
      },
      30_000,
      250,
    );
    expect(merged.id).toBe(first.id);
    expect(merged.sources).toHaveLength(1);
    expect(merged.sources[0].first_seen).toBe(first.sources[0].first_seen);
    expect(merged.sources[0].last_seen > first.sources[0].last_seen).toBe(true);
    const hist = await call('GET', `/v1/discovery/agents/${first.id}/history`, { token: admin });
    expect(hist.json.items).toHaveLength(1);
  });

  it('takes a handshake arx mcp-gateway reports for its agent (POST /v1/discovery/handshakes), and refuses bad reports', async () => {
    const agent = await register(call, admin, rt.url);
    const initialize = {
      jsonrpc: '2.0',
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        clientInfo: { name: `desk-client-${tag}`, version: '2.1.0' },
        capabilities: { sampling: {}, elicitation: {} },
      },
    };
    const r = await call('POST', '/v1/discovery/handshakes', {
      token: agent.svid,
      body: { connector: 'memory-mcp', initialize },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ found: 1, new: 1 });
    const items = (
      await call('GET', `/v1/discovery/agents?source=mcp_handshake&q=desk-client-${tag}`, { token: admin })
    ).json.items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      platform_native_id: `${agent.agentId}/desk-client-${tag}`,
      arx_agent_id: agent.agentId,
      sanctioned: true,
      declared_capabilities: [`mcp-client:desk-client-${tag}`, 'mcp:elicitation', 'mcp:sampling'],
    });
    expect(items[0].sources[0]).toMatchObject({ source: 'mcp_handshake', origin: 'mcp:gateway:memory-mcp' });
    // Only an agent reports its own gateway's handshakes; a malformed report is a 400 and stores nothing.
    const asAdmin = await call('POST', '/v1/discovery/handshakes', {
      token: admin,
      body: { connector: 'memory-mcp', initialize },
    });
    expect(asAdmin.status).toBe(403);
    for (const body of [
      { connector: 'memory-mcp' },
      { connector: 'Memory MCP', initialize },
      { connector: 'memory-mcp', initialize: { ...initialize, method: 'tools/list' } },
      { connector: 'memory-mcp', initialize: { method: 'initialize', params: { clientInfo: { version: '1' } } } },
      { connector: 'memory-mcp', initialize, extra: true },
    ]) {
      const bad = await call('POST', '/v1/discovery/handshakes', { token: agent.svid, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
    }
    const after = (await call('GET', `/v1/discovery/agents?source=mcp_handshake&q=${agent.agentId}`, { token: admin }))
      .json.items;
    expect(after.map((i: { platform_native_id: string }) => i.platform_native_id)).toEqual([
      `${agent.agentId}/desk-client-${tag}`,
    ]);
  });
});

describe('discovery down: the bus refuses every event (e2e)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  const clients: Client[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    rt = await startTestRuntime({ ARX_EVENT_BUS: `arx-no-such-bus-${tag}` });
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    const put = await call('PUT', `/v1/connectors/${CONNECTOR}`, {
      token: admin,
      body: { config: { kind: 'mcp', url: upstream.url } },
    });
    expect(put.status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await rt?.stop();
    await upstream?.close();
  });

  it('OTLP ingest and the MCP call succeed; the evidence waits in the outbox for the relay', async () => {
    const shadowId = `down-bot-${tag}`;
    await exportOk(rt.url, admin, shadowId);
    const agent = await register(call, admin, rt.url);
    const client = await mcpClient(rt.url, agent.svid, `down-client-${tag}`, '1.0.0');
    clients.push(client);
    expect((await client.listTools()).tools).toEqual([]);

    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    // Eventually: a report slower than its budget is left to finish after the answer.
    const evidence = await eventually(
      async () => {
        const outbox = await ddb.send(
          new QueryCommand({
            TableName: rt.env.ARX_CONTROL_TABLE!,
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': 'T#acme#OUTBOX' },
          }),
        );
        const found = (outbox.Items ?? []).filter((i) => i.detail_type === 'discovery.evidence');
        return found.length >= 2 ? found : null;
      },
      20_000,
      250,
    );
    const ids = evidence.flatMap((i) =>
      i.detail.items.map((x: { platform_native_id: string }) => x.platform_native_id),
    );
    expect(ids).toEqual(expect.arrayContaining([shadowId, `${agent.agentId}/down-client-${tag}`]));
    expect(evidence.map((i) => i.detail.source).sort()).toEqual(['mcp_handshake', 'otlp_inference']);
  });
});
