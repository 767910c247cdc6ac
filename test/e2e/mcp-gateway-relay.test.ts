import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { createMcpGateway, type McpGateway } from '../../sdk/mcp-gateway/index.js';
import { inProcessPdp } from '../support/mcp-pdp.js';

const BIN = join(resolve(__dirname, '../..'), 'node_modules/.bin');
const TOOLS = `
    "tools:trigger_long_running_operation": low
    "tools:toggle_simulated_logging": low
    "tools:toggle_subscriber_updates": low
    "tools:trigger_sampling_request": low
    "tools:trigger_elicitation_request": low`;
const POLICY = `
- name: relay-open
  connector: everything-mcp
  operations:${TOOLS}
    "prompts:completable_prompt": low
    "resources:read": low
    "sampling:create_message": low
    "elicitation:create": low
- name: relay-strict
  connector: strict-mcp
  operations:${TOOLS}
`;
const DOC = 'demo://resource/static/document/features.md';

/**
 * Server → client traffic through the gateway (Streamable HTTP `listen`, the official SDK client)
 * in front of the real server-everything over stdio, decided by ARX's PDP in process: what is
 * relayed, what is decided like the thing it refers to, and what is answered for the client.
 * `everything-mcp` permits sampling, elicitation, the completable prompt and resources;
 * `strict-mcp` permits the same tools and nothing else (deny by default).
 */
describe('arx mcp-gateway relays the upstream’s server → client traffic, governed', () => {
  const arx = inProcessPdp(POLICY);
  const gateways: McpGateway[] = [];
  const servers: { url: string; close(): Promise<void> }[] = [];
  const clients: Client[] = [];
  const url: Record<string, string> = {};

  beforeAll(async () => {
    for (const connector of ['everything-mcp', 'strict-mcp']) {
      const gw = await createMcpGateway({
        connector,
        upstream: { command: join(BIN, 'mcp-server-everything') },
        arx,
      });
      gateways.push(gw);
      const srv = await gw.listen('127.0.0.1', 0);
      servers.push(srv);
      url[connector] = srv.url;
    }
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) await s.close();
    for (const g of gateways) await g.close();
  });

  const connect = async (connector: string, capabilities: ClientCapabilities = {}) => {
    const c = new Client({ name: 'relay-e2e', version: '1.0.0' }, { capabilities });
    await c.connect(new StreamableHTTPClientTransport(new URL(url[connector]!)));
    clients.push(c);
    return c;
  };
  const textOf = (r: unknown) =>
    ((r as CallToolResult).content as { type: string; text?: string }[]).map((x) => x.text ?? '').join('\n');
  const audited = (action: string) => arx.audit.filter((e) => e.action_name === action);

  it('relays progress of a tools/call under the client’s progress token', async () => {
    const c = await connect('everything-mcp');
    const progress: { progress: number; total?: number }[] = [];
    const r = await c.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      undefined,
      { onprogress: (p) => void progress.push({ progress: p.progress, ...(p.total ? { total: p.total } : {}) }) },
    );
    expect(textOf(r)).toMatch(/Long running operation completed/);
    expect(progress).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
  });

  it('forwards logging/setLevel upstream and relays notifications/message', async () => {
    const c = await connect('everything-mcp');
    const logs: { level: string; data: unknown }[] = [];
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    await c.setLoggingLevel('debug');
    await c.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await vi.waitFor(() => expect(logs.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(String(logs[0]!.data)).toMatch(/-level message/);
    await c.callTool({ name: 'toggle-simulated-logging', arguments: {} }); // off again
  });

  it('relays sampling/createMessage to a client that declared sampling, when ARX permits it, and records it', async () => {
    const c = await connect('everything-mcp', { sampling: {} });
    const asked: unknown[] = [];
    c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params);
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled: forty-two' } };
    });
    const r = await c.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'the answer?' } });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('sampled: forty-two');
    expect(JSON.stringify(asked)).toContain('the answer?');
    expect(audited('everything-mcp:sampling:create_message').map((e) => e.decision)).toEqual(['permit']);
  });

  it('answers the upstream with an error when the client did not declare sampling, or ARX does not permit it', async () => {
    const without = await connect('everything-mcp'); // no sampling capability
    const r1 = await without.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x' } });
    expect(r1.isError).toBe(true);
    expect(textOf(r1)).toMatch(/did not declare the capability/);

    const strict = await connect('strict-mcp', { sampling: {} });
    let asked = 0;
    strict.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked++;
      return { role: 'assistant', model: 'm', content: { type: 'text', text: 'never' } };
    });
    const r2 = await strict.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x' } });
    expect(r2.isError).toBe(true);
    expect(textOf(r2)).toMatch(/ARX denied sampling\/createMessage/);
    expect(asked).toBe(0);
    const denied = audited('strict-mcp:sampling:create_message');
    expect(denied.map((e) => e.decision)).toEqual(['forbid']);
    expect(denied[0]!.target).toBe('strict-mcp');
  });

  it('relays elicitation/create (form) when the client declared it and ARX permits it; deny by default otherwise', async () => {
    const handler = (c: Client, seen: unknown[]) =>
      c.setRequestHandler(ElicitRequestSchema, async (req) => {
        seen.push(req.params);
        return { action: 'accept', content: { name: 'Ada' } };
      });
    const open = await connect('everything-mcp', { elicitation: { form: {} } });
    const seen: unknown[] = [];
    handler(open, seen);
    const r = await open.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(seen).toHaveLength(1);
    expect(textOf(r)).toMatch(/Ada/);
    expect(audited('everything-mcp:elicitation:create').at(-1)?.decision).toBe('permit');

    const strict = await connect('strict-mcp', { elicitation: { form: {} } });
    const never: unknown[] = [];
    handler(strict, never);
    const r2 = await strict.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(r2.isError).toBe(true);
    expect(textOf(r2)).toMatch(/ARX denied elicitation\/create/);
    expect(never).toEqual([]);
  });

  it('decides completion/complete like the prompt it completes', async () => {
    const open = await connect('everything-mcp');
    const done = await open.complete({
      ref: { type: 'ref/prompt', name: 'completable-prompt' },
      argument: { name: 'department', value: 'E' },
    });
    expect(done.completion.values).toEqual(['Engineering']);
    const strict = await connect('strict-mcp');
    await expect(
      strict.complete({
        ref: { type: 'ref/prompt', name: 'completable-prompt' },
        argument: { name: 'department', value: 'E' },
      }),
    ).rejects.toThrow(/ARX denied completion\/complete for prompt completable-prompt/);
  });

  it('decides resources/subscribe as resources:read and relays notifications/resources/updated', async () => {
    const open = await connect('everything-mcp');
    const updates: string[] = [];
    open.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    await open.subscribeResource({ uri: DOC });
    await open.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await vi.waitFor(() => expect(updates).toContain(DOC), { timeout: 5000 });
    await open.unsubscribeResource({ uri: DOC });
    await open.callTool({ name: 'toggle-subscriber-updates', arguments: {} }); // off again

    const strict = await connect('strict-mcp');
    await expect(strict.subscribeResource({ uri: DOC })).rejects.toThrow(/ARX denied resources\/subscribe/);
  });
});
