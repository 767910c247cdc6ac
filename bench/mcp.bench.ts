/**
 * MCP gateway overhead: `tools/call` p50/p99 through createMcpGateway() (decision by ARX's
 * in-process PDP — the YAML policy compiled to Cedar, loaded as a bundle — pin check, argument and
 * definition hashing, and an audit record written before the upstream call), beside the same SDK
 * client calling the same upstream (server-memory, `read_graph`, over stdio) directly, in the same
 * run, interleaved. Client ↔ gateway is the SDK's in-memory transport (the gateway in process);
 * gateway ↔ upstream and client ↔ upstream are both stdio to a fresh server-memory.
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
  const viaGateway = new Client({ name: 'bench', version: '1' });
  await viaGateway.connect(ct);
  const direct = new Client({ name: 'bench', version: '1' });
  await direct.connect(
    new StdioClientTransport({
      command: upstream.command,
      env: { PATH: process.env.PATH!, MEMORY_FILE_PATH: join(dir, 'd.jsonl') },
      stderr: 'ignore',
    }),
  );
  try {
    await viaGateway.listTools(); // pins the definitions, as a client's first list does
    const g: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      let t = performance.now();
      const rg = await viaGateway.callTool({ name: 'read_graph', arguments: {} });
      const tg = performance.now() - t;
      t = performance.now();
      await direct.callTool({ name: 'read_graph', arguments: {} });
      const td = performance.now() - t;
      if (rg.isError) throw new Error(`gateway refused the benchmark call: ${JSON.stringify(rg.structuredContent)}`);
      if (i >= WARMUP) {
        g.push(tg);
        d.push(td);
      }
    }
    const overhead = g.map((x, i) => x - d[i]!);
    const params = {
      samples: N,
      warmup: WARMUP,
      node: process.version,
      tool: 'server-memory read_graph over stdio',
      decision: 'in-process PDP (YAML → Cedar bundle), pin check, hashes, in-memory audit record before the call',
      client_to_gateway: 'SDK InMemoryTransport',
      baseline: 'same SDK client → same upstream directly over stdio, interleaved in the same run',
      audit_records: audit.length,
    };
    return [
      { name: 'mcp_tools_call_gateway_p50', unit: 'ms', value: pct(g, 50), baseline: pct(d, 50), params },
      { name: 'mcp_tools_call_gateway_p99', unit: 'ms', value: pct(g, 99), baseline: pct(d, 99), params },
      {
        name: 'mcp_tools_call_overhead_p50',
        unit: 'ms',
        value: pct(overhead, 50),
        params: { ...params, note: 'per-sample gateway minus the direct call next to it' },
      },
      {
        name: 'mcp_tools_call_overhead_p99',
        unit: 'ms',
        value: pct(overhead, 99),
        params: { ...params, note: 'per-sample gateway minus the direct call next to it; target ≤ 2 ms' },
      },
    ];
  } finally {
    await viaGateway.close();
    await direct.close();
    await gw.close();
  }
}
