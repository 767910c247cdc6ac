import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpGateway, SSE_RETRY_MS, type McpGateway } from '../../sdk/mcp-gateway/index.js';
import { inProcessPdp } from '../support/mcp-pdp.js';

const BIN = join(resolve(__dirname, '../..'), 'node_modules/.bin');
const POLICY = `
- name: resume
  connector: everything-mcp
  operations: { "tools:trigger_long_running_operation": low }
`;

interface SseEvent {
  id?: string;
  retry?: number;
  data: string;
}

/** Reads SSE events off a response body until `until` says stop (then aborts the request). */
async function readEvents(
  res: Response,
  until: (e: SseEvent, all: SseEvent[]) => boolean,
  abort?: AbortController,
): Promise<SseEvent[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const all: SseEvent[] = [];
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return all;
    buf += value;
    let cut = buf.indexOf('\n\n');
    while (cut >= 0) {
      const e: SseEvent = { data: '' };
      for (const line of buf.slice(0, cut).split('\n')) {
        const [k, ...v] = line.split(':');
        const val = v.join(':').replace(/^ /, '');
        if (k === 'id') e.id = val;
        else if (k === 'retry') e.retry = Number(val);
        else if (k === 'data') e.data += val;
      }
      buf = buf.slice(cut + 2);
      all.push(e);
      if (until(e, all)) {
        abort?.abort();
        await reader.cancel().catch(() => undefined);
        return all;
      }
      cut = buf.indexOf('\n\n');
    }
  }
}

/**
 * A client whose stream breaks during a long call (a dropped connection, a proxy timing out an
 * idle stream during a held call) gets the result anyway: the gateway's Streamable HTTP listener
 * keeps each session's SSE events, opens every POST stream with a priming event (id, retry), and
 * replays what the client missed when it reconnects with `Last-Event-ID` (SEP-1699). Raw HTTP, so
 * the test sees the wire; in front of the real server-everything over stdio.
 */
describe('MCP gateway (Streamable HTTP): a stream cut mid-call resumes with Last-Event-ID', () => {
  const arx = inProcessPdp(POLICY);
  let gw: McpGateway;
  let srv: { url: string; close(): Promise<void> };
  let session: string;
  const headers = () => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    'mcp-session-id': session,
  });

  beforeAll(async () => {
    gw = await createMcpGateway({
      connector: 'everything-mcp',
      upstream: { command: join(BIN, 'mcp-server-everything') },
      arx,
    });
    srv = await gw.listen('127.0.0.1', 0);
    session = await openSession();
    const ready = await fetch(srv.url, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(ready.status).toBe(202);
    // The first list pins the tool definitions, as any client's first list does.
    const list = await fetch(srv.url, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(await list.text()).toContain('trigger-long-running-operation');
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    await gw?.close();
  });

  const openSession = async () => {
    const init = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'resume-e2e', version: '1' } },
      }),
    });
    expect(init.status).toBe(200);
    await init.text();
    return init.headers.get('mcp-session-id')!;
  };
  let seenId = '';

  it('opens the call’s stream with a priming event, and replays the result to a client that reconnects after losing it', async () => {
    const cut = new AbortController();
    const call = await fetch(srv.url, {
      signal: cut.signal,
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: {
          name: 'trigger-long-running-operation',
          arguments: { duration: 1.5, steps: 3 },
          _meta: { progressToken: 'p7' },
        },
      }),
    });
    expect(call.status).toBe(200);
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    // Read the priming event and the first progress notification, then drop the connection.
    const before = await readEvents(call, (_e, all) => all.some((x) => x.data.includes('notifications/progress')), cut);
    expect(before[0]).toMatchObject({ data: '', retry: SSE_RETRY_MS });
    expect(before[0]!.id).toMatch(/_/);
    const lastId = before.at(-1)!.id!;
    seenId = lastId;
    expect(before.some((e) => e.data.includes('"id":7'))).toBe(false); // the result had not come yet

    // As a client does: wait the priming event's retry, then reconnect with the last id it saw.
    await new Promise((r) => setTimeout(r, before[0]!.retry));
    const resumed = await fetch(srv.url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': lastId },
    });
    expect(resumed.status).toBe(200);
    const after = await readEvents(resumed, (e) => e.data.includes('"id":7'));
    const result = JSON.parse(after.at(-1)!.data) as { id: number; result: { content: { text: string }[] } };
    expect(result.id).toBe(7);
    expect(result.result.content[0]!.text).toMatch(/Long running operation completed/);
    // Nothing was sent twice: every replayed event is newer than the one the client had.
    const seen = new Set(before.map((e) => e.id));
    expect(after.filter((e) => e.id && seen.has(e.id))).toEqual([]);
    // The call ran once upstream and was recorded once.
    expect(arx.audit.filter((r) => r.action_name.endsWith('tools:trigger_long_running_operation'))).toHaveLength(1);
  }, 60_000);

  it('refuses a Last-Event-ID that is not one of the session’s events (400), and another session cannot replay it', async () => {
    const bogus = await fetch(srv.url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': 'not-an-event_00000001' },
    });
    expect(bogus.status).toBe(400);
    await bogus.text();
    const other = await openSession();
    const stolen = await fetch(srv.url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': other, 'last-event-id': seenId },
    });
    expect(seenId).not.toBe('');
    expect(stolen.status).toBe(400);
    await stolen.text();
  });
});
