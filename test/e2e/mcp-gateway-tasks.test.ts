import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  type CallToolResult,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { type api, eventually } from '../support/runtime.js';
import { arxOf, startMcpArx, textOf } from '../support/mcp-arx.js';
import { createMcpGateway, type McpGateway } from '../../sdk/mcp-gateway/index.js';

const BIN = join(resolve(__dirname, '../..'), 'node_modules/.bin');
const POLICY = `
- name: everything-tools
  connector: everything-mcp
  operations:
    "tools:echo": low
    "tools:get_sum": high
    "tools:simulate_research_query": low
    "resources:read": low
  risk_max: high
`;

/** The gateway's --hold: how long a plain held call waits before answering pending_approval. */
const HOLD_MS = 6_000;

/**
 * MCP tasks (SEP-1686, 2025-11-25) through the gateway: the official SDK client over Streamable
 * HTTP → createMcpGateway().listen() → the real server-everything (stdio), decided and held by the
 * local ARX runtime. A held call is a task that completes (or fails) when the approver decides.
 */
describe('MCP gateway: tools/call as MCP tasks (held calls wait for their ARX approval)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let approver: string;
  let gw: McpGateway;
  let srv: { url: string; close(): Promise<void> };
  const clients: Client[] = [];
  const connect = async () => {
    const c = new Client({ name: 'tasks-e2e', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
    clients.push(c);
    return c;
  };
  /** A task-augmented tools/call, as the spec puts it (params.task). */
  const callAsTask = (c: Client, name: string, args: Record<string, unknown>, ttl = 600_000) =>
    c.request({ method: 'tools/call', params: { name, arguments: args, task: { ttl } } }, CreateTaskResultSchema);
  const decide = async (approvalId: string, decision: 'approve' | 'deny') =>
    (
      await call('POST', `/v1/approvals/${approvalId}/decision`, {
        token: approver,
        body: { decision, reason: `e2e ${decision}` },
      })
    ).status;
  const approvalOf = (t: Task) => /approval (apr_[A-Za-z0-9_-]+)/.exec(t.statusMessage ?? '')?.[1];
  const settled = async (c: Client, taskId: string) => {
    let t: Task | undefined;
    await eventually(async () => {
      t = await c.experimental.tasks.getTask(taskId);
      return ['completed', 'failed', 'cancelled'].includes(t.status);
    }, 20_000);
    return t!;
  };

  beforeAll(async () => {
    const arx = await startMcpArx(POLICY, ['everything-mcp']);
    ({ rt, call, approver } = arx);
    const reg = { json: await arx.agent('mcp-tasks') };
    gw = await createMcpGateway({
      connector: 'everything-mcp',
      upstream: { command: join(BIN, 'mcp-server-everything') },
      arx: { apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token },
      holdMs: HOLD_MS,
    });
    srv = await gw.listen('127.0.0.1', 0);
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await srv?.close();
    await gw?.close();
    await rt?.stop();
  });

  it('declares tasks for tools/call, lists tools as taskSupport optional, and runs a permitted call as a task', async () => {
    const c = await connect();
    expect(c.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const tools = (await c.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'get-sum', 'simulate-research-query']);
    for (const t of tools) expect(t.execution?.taskSupport).toBe('optional');

    // The SDK's own task client: task created, polled, result fetched.
    const before = gw.stats.upstreamCalls;
    const seen: string[] = [];
    let result: CallToolResult | undefined;
    for await (const m of c.experimental.tasks.callToolStream(
      { name: 'echo', arguments: { message: 'as a task' } },
      CallToolResultSchema,
      { task: { ttl: 60_000 } },
    )) {
      seen.push(m.type);
      if (m.type === 'result') result = m.result as CallToolResult;
      if (m.type === 'error') throw m.error;
    }
    expect(seen[0]).toBe('taskCreated');
    expect(seen.at(-1)).toBe('result');
    expect(textOf(result)).toContain('as a task');
    expect(gw.stats.upstreamCalls).toBe(before + 1);

    // Without params.task the same tool answers as before.
    const plain = (await c.callTool({ name: 'echo', arguments: { message: 'plain' } })) as CallToolResult;
    expect(textOf(plain)).toContain('plain');
  });

  it('a held call answers a task at once; approving it in ARX completes the task with the upstream result, run exactly once', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    const asked = Date.now();
    const created = await callAsTask(c, 'get-sum', { a: 20, b: 22 });
    // A task is answered without the hold: a plain call would wait HOLD_MS before answering.
    expect(Date.now() - asked).toBeLessThan(HOLD_MS);
    const t = created.task;
    expect(t.status).toBe('working');
    const approvalId = approvalOf(t);
    expect(approvalId).toMatch(/^apr_/);
    const expires = /expires ([0-9T:.Z-]+)/.exec(t.statusMessage ?? '')?.[1];
    expect(Date.parse(expires!)).toBeGreaterThan(Date.now());
    // ttl bounded: at most the requested 10 min, and at most until the approval expires (+5 min for the result).
    expect(t.ttl).toBeGreaterThan(0);
    expect(t.ttl!).toBeLessThanOrEqual(Math.min(600_000, Date.parse(expires!) - Date.parse(t.createdAt) + 300_000));
    expect((await c.experimental.tasks.getTask(t.taskId)).status).toBe('working');
    expect((await c.experimental.tasks.listTasks()).tasks.map((x) => x.taskId)).toContain(t.taskId);

    // The approval is the one an approver sees, bound to the tool.
    const pending = (await call('GET', '/v1/approvals?status=pending', { token: approver })).json.items as any[];
    expect(pending.find((p) => p.approval_id === approvalId)).toMatchObject({
      connector: 'everything-mcp',
      operation: 'tools:get_sum',
    });
    expect(gw.stats.upstreamCalls).toBe(before);

    // tasks/result blocks until the task is terminal: ask before the decision, approve, get the result.
    const result = c.experimental.tasks.getTaskResult(t.taskId, CallToolResultSchema);
    expect(await decide(approvalId!, 'approve')).toBe(200);
    const r = (await result) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('42');
    expect((await settled(c, t.taskId)).status).toBe('completed');
    expect(gw.stats.upstreamCalls).toBe(before + 1);

    // Reading the result again does not run it again; the grant is spent.
    expect(textOf(await c.experimental.tasks.getTaskResult(t.taskId, CallToolResultSchema))).toContain('42');
    await new Promise((res) => setTimeout(res, 500));
    expect(gw.stats.upstreamCalls).toBe(before + 1);
    const again = await callAsTask(c, 'get-sum', { a: 20, b: 22 });
    expect(approvalOf(again.task)).not.toBe(approvalId); // a new approval for a new call
  });

  it('a denial by the approver fails the task; tasks/result is the denied CallToolResult and nothing ran upstream', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    const { task } = await callAsTask(c, 'get-sum', { a: 1, b: 2 });
    const approvalId = approvalOf(task)!;
    expect(await decide(approvalId, 'deny')).toBe(200);
    const done = await settled(c, task.taskId);
    expect(done.status).toBe('failed');
    const r = await c.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(r.isError).toBe(true);
    expect(arxOf(r)).toMatchObject({ status: 'denied', approval_id: approvalId });
    expect(gw.stats.upstreamCalls).toBe(before);
  });

  it('a forbidden call made as a task fails at once with status denied', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    const { task } = await callAsTask(c, 'get-tiny-image', {});
    const done = await settled(c, task.taskId);
    expect(done.status).toBe('failed');
    const r = await c.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(arxOf(r)).toMatchObject({ status: 'denied' });
    expect(gw.stats.upstreamCalls).toBe(before);
  });

  it('tasks/cancel cancels a held task: an approval afterwards runs nothing, and the same call asks again', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    const { task } = await callAsTask(c, 'get-sum', { a: 5, b: 6 });
    const approvalId = approvalOf(task)!;
    const cancelled = await c.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: 'cancelled' });
    expect(cancelled.statusMessage).toMatch(/will not be used/);
    expect((await c.experimental.tasks.getTask(task.taskId)).status).toBe('cancelled');
    await expect(c.experimental.tasks.cancelTask(task.taskId)).rejects.toThrow(/terminal status: cancelled/);

    // The approver approves anyway: the cancelled task stays cancelled and the upstream is not called.
    expect(await decide(approvalId, 'approve')).toBe(200);
    await new Promise((res) => setTimeout(res, 2_000));
    expect((await c.experimental.tasks.getTask(task.taskId)).status).toBe('cancelled');
    expect(gw.stats.upstreamCalls).toBe(before);
    // Not even a plain retry of the same call spends that approval.
    const retry = await c.callTool({ name: 'get-sum', arguments: { a: 5, b: 6 } });
    expect(arxOf(retry)).toMatchObject({ status: 'pending_approval' });
    expect(arxOf(retry)!.approval_id).not.toBe(approvalId);
    expect(gw.stats.upstreamCalls).toBe(before);
  });

  it('another session neither sees nor reads nor cancels the task', async () => {
    const owner = await connect();
    const other = await connect();
    const { task } = await callAsTask(owner, 'get-sum', { a: 7, b: 8 });
    await expect(other.experimental.tasks.getTask(task.taskId)).rejects.toThrow(/not found/i);
    await expect(other.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)).rejects.toThrow(
      /not found/i,
    );
    await expect(other.experimental.tasks.cancelTask(task.taskId)).rejects.toThrow(/not found/i);
    expect((await other.experimental.tasks.listTasks()).tasks).toEqual([]);
    expect((await owner.experimental.tasks.getTask(task.taskId)).status).toBe('working');
    expect((await owner.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([task.taskId]);
  });

  it('runs a tool the upstream requires as a task (server-everything simulate-research-query) as an upstream task', async () => {
    const c = await connect();
    const before = gw.stats.upstreamCalls;
    // A plain call: the gateway's own upstream call is the task the upstream requires.
    const plain = (await c.callTool({
      name: 'simulate-research-query',
      arguments: { topic: 'governed agents' },
    })) as CallToolResult;
    expect(plain.isError).toBeFalsy();
    expect(textOf(plain)).toMatch(/governed agents/);
    // And as the client's task.
    const { task } = await callAsTask(c, 'simulate-research-query', { topic: 'tasks' });
    const r = (await c.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toMatch(/tasks/);
    expect((await settled(c, task.taskId)).status).toBe('completed');
    expect(gw.stats.upstreamCalls).toBe(before + 2);
  }, 30_000);

  it('the stateless path (one request, one server) declares no tasks capability', async () => {
    const res = await gw.handleStateless(
      new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      }),
    );
    expect(res.status).toBe(200);
    const caps = ((await res.json()) as { result: { capabilities: Record<string, unknown> } }).result.capabilities;
    expect(caps.tools).toBeTruthy();
    expect(caps.tasks).toBeUndefined();
  });

  it('relays an upstream JSON-RPC error with one "MCP error <code>:" prefix, not one per hop', async () => {
    const c = await connect();
    const e = await c.readResource({ uri: 'demo://no-such-resource' }).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(e?.message).toMatch(/^MCP error -32602: Resource demo:\/\/no-such-resource not found/);
    expect(e?.message).not.toMatch(/MCP error -?\d+: MCP error/);
  });
});
