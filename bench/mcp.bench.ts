/**
 * MCP gateway overhead: `tools/call` p50/p99 through createMcpGateway() (decision by ARX's
 * in-process PDP — the YAML policy compiled to Cedar, loaded as a bundle — pin check, argument and
 * definition hashing, and an audit record written before the upstream call), beside the same SDK
 * client calling the same upstream (server-memory, `read_graph`, over stdio) directly, in the same
 * run, interleaved. Client ↔ gateway is the SDK's in-memory transport (the gateway in process);
 * gateway ↔ upstream and client ↔ upstream are both stdio to a fresh server-memory.
 *
 * Three overhead figures, because the per-sample difference of two stdio round trips is mostly
 * the scheduler's noise on a loaded machine:
 *  - `overhead_p99` = p99(through the gateway) − p99(direct): the latency the gateway adds at p99;
 *  - `self_p99`: the gateway's own time per call, read off the wire on both of its sides — from the
 *    client's request reaching the gateway to the gateway's request leaving for the upstream, plus
 *    from the upstream's answer reaching the gateway to the gateway's answer leaving for the client
 *    (everything the gateway does: SDK parsing and validation, decision, hashes, pin check, audit,
 *    the second JSON-RPC hop's encoding). No gateway code is changed for it: the bench wraps the
 *    two transports' send/onmessage;
 *  - `paired_diff_p99`: p99 of (gateway − direct) per interleaved pair, for reference.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { BenchResult } from './run.js';
import { createMcpGateway } from '../sdk/mcp-gateway/index.js';
import { inProcessPdp } from '../test/support/mcp-pdp.js';

const POLICY = `
- name: memory-tools
  connector: memory-mcp
  operations: { "tools:read_graph": low, "tools:create_entities": high }
  risk_max: high
`;
const N = Number(process.env.ARX_BENCH_MCP_N ?? 500);
const WARMUP = 50;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(3));
};

export async function run(): Promise<BenchResult[]> {
  // ARX's own PDP code in process (the same port the relay e2e tests use); audit records kept in memory.
  const arx = inProcessPdp(POLICY, 'agt_bench');
  const audit = arx.audit;
  const dir = mkdtempSync(join(tmpdir(), 'arx-mcp-bench-'));
  const upstream = {
    command: join(process.cwd(), 'node_modules/.bin/mcp-server-memory'),
    env: { MEMORY_FILE_PATH: join(dir, 'm.jsonl') },
  };
  const gw = await createMcpGateway({ connector: 'memory-mcp', upstream, arx });
  const session = await gw.newSession();
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await session.server.connect(st);
  const wire = wireClock(st);
  const viaGateway = new Client({ name: 'bench', version: '1' });
  await viaGateway.connect(ct);
  const direct = new Client({ name: 'bench', version: '1' });
  const directTransport = new StdioClientTransport({
    command: upstream.command,
    env: { PATH: process.env.PATH!, MEMORY_FILE_PATH: join(dir, 'd.jsonl') },
    stderr: 'ignore',
  });
  wire.exclude(directTransport);
  await direct.connect(directTransport);
  try {
    await viaGateway.listTools(); // pins the definitions, as a client's first list does
    const g: number[] = [];
    const d: number[] = [];
    const self: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      wire.begin();
      let t = performance.now();
      const rg = await viaGateway.callTool({ name: 'read_graph', arguments: {} });
      const tg = performance.now() - t;
      const own = wire.end();
      t = performance.now();
      await direct.callTool({ name: 'read_graph', arguments: {} });
      const td = performance.now() - t;
      if (rg.isError) throw new Error(`gateway refused the benchmark call: ${JSON.stringify(rg.structuredContent)}`);
      if (i >= WARMUP) {
        g.push(tg);
        d.push(td);
        self.push(own);
      }
    }
    wire.restore();
    const paired = g.map((x, i) => x - d[i]!);
    const params = {
      samples: N,
      warmup: WARMUP,
      node: process.version,
      tool: 'server-memory read_graph over stdio',
      decision: 'in-process PDP (YAML → Cedar bundle), pin check, hashes, in-memory audit record before the call',
      client_to_gateway: 'SDK InMemoryTransport',
      baseline: 'same SDK client → same upstream directly over stdio, interleaved in the same run',
      audit_records: audit.length,
      self_before_upstream_p50_p99: [pct(wire.pre.slice(WARMUP), 50), pct(wire.pre.slice(WARMUP), 99)],
      self_after_upstream_p50_p99: [pct(wire.post.slice(WARMUP), 50), pct(wire.post.slice(WARMUP), 99)],
    };
    return [
      { name: 'mcp_tools_call_gateway_p50', unit: 'ms', value: pct(g, 50), baseline: pct(d, 50), params },
      { name: 'mcp_tools_call_gateway_p99', unit: 'ms', value: pct(g, 99), baseline: pct(d, 99), params },
      {
        name: 'mcp_tools_call_overhead_p50',
        unit: 'ms',
        value: Number((pct(g, 50) - pct(d, 50)).toFixed(3)),
        params: { ...params, note: 'p50 through the gateway minus p50 direct, same run' },
      },
      {
        name: 'mcp_tools_call_overhead_p99',
        unit: 'ms',
        value: Number((pct(g, 99) - pct(d, 99)).toFixed(3)),
        params: { ...params, note: 'p99 through the gateway minus p99 direct, same run; target ≤ 2 ms' },
      },
      {
        name: 'mcp_tools_call_gateway_self_p50',
        unit: 'ms',
        value: pct(self, 50),
        params: { ...params, note: "the gateway's own time per call, read off its two wires (see the file's header)" },
      },
      {
        name: 'mcp_tools_call_gateway_self_p99',
        unit: 'ms',
        value: pct(self, 99),
        params: {
          ...params,
          note: "the gateway's own time per call, read off its two wires (see the file's header); target ≤ 2 ms",
        },
      },
      {
        name: 'mcp_tools_call_paired_diff_p99',
        unit: 'ms',
        value: pct(paired, 99),
        params: {
          ...params,
          note: 'p99 of (gateway − direct) per interleaved pair: two stdio round trips’ scheduling noise added, for reference',
        },
      },
    ];
  } finally {
    await viaGateway.close();
    await direct.close();
    await gw.close();
  }
}

type Msg = { id?: unknown; method?: string; result?: unknown; error?: unknown };

/**
 * Timestamps one `tools/call` on the gateway's two wires: the in-memory server transport the client
 * talks to, and the stdio transport the gateway opens to its upstream (every StdioClientTransport
 * but the direct client's).
 */
function wireClock(server: InMemoryTransport) {
  const proto = StdioClientTransport.prototype as unknown as { send(m: Msg): Promise<void> };
  const originalSend = proto.send;
  const excluded = new WeakSet<object>();
  const wrapped = new WeakSet<object>();
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  const pre: number[] = [];
  const post: number[] = [];
  let clientId: unknown;
  let upstreamId: unknown;
  const inbound = server.onmessage!;
  server.onmessage = (m: Msg, extra?: unknown) => {
    if (m.method === 'tools/call') {
      t0 = performance.now();
      clientId = m.id;
    }
    (inbound as (m: Msg, e?: unknown) => void)(m, extra);
  };
  const outbound = server.send.bind(server);
  server.send = async (m: Msg, opts?: unknown) => {
    if (m.id === clientId && ('result' in m || 'error' in m)) t3 = performance.now();
    return outbound(m as never, opts as never);
  };
  proto.send = function (this: { onmessage?: (m: Msg) => void }, m: Msg) {
    if (!excluded.has(this)) {
      if (m.method === 'tools/call') {
        t1 = performance.now();
        upstreamId = m.id;
      }
      if (!wrapped.has(this) && this.onmessage) {
        wrapped.add(this);
        const receive = this.onmessage;
        this.onmessage = (r: Msg) => {
          if (r.id === upstreamId && ('result' in r || 'error' in r)) t2 = performance.now();
          receive(r);
        };
      }
    }
    return originalSend.call(this, m);
  };
  return {
    pre,
    post,
    exclude: (t: object) => excluded.add(t),
    begin: () => {
      t0 = t1 = t2 = t3 = 0;
    },
    end: () => {
      if (!(t0 && t1 && t2 && t3)) throw new Error('a gateway tools/call was not seen on both wires');
      pre.push(t1 - t0);
      post.push(t3 - t2);
      return t1 - t0 + (t3 - t2);
    },
    restore: () => {
      proto.send = originalSend;
    },
  };
}
