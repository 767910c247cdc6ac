/**
 * `npm run conformance:mcp`: runs the protocol's own server test suite,
 * `@modelcontextprotocol/conformance`, against the MCP gateway's Streamable HTTP listener (the
 * `arx mcp-gateway --listen` path) fronting test/e2e/fixtures/conformance-upstream.ts over stdio.
 * The gateway decides every call with ARX's in-process PDP; the policy permits every tool, prompt,
 * resource read, sampling and elicitation, so what fails is the gateway's protocol handling, not a
 * denial. The suite needs Node ≥ 22 (fs.globSync): it runs under the current Node when that is new
 * enough, else under `npx -p node@22` (fetched from the npm registry once).
 *
 * Prints one line per scenario and a summary; writes the summary to sdk/mcp-gateway/conformance.json
 * ($ARX_CONFORMANCE_OUT instead when set: the e2e test writes to a temp file)
 * (not a speed figure: pass/fail counts per scenario, with the suite's version). Exit code 0 when
 * every failing check is listed in KNOWN_FAILURES below with its reason, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createMcpGateway } from '../sdk/mcp-gateway/index.js';
import { inProcessPdp } from '../test/support/mcp-pdp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const POLICY = `
- name: conformance
  connector: conformance-mcp
  operations:
    "tools:*": low
    "prompts:*": low
    "resources:read": low
    "sampling:create_message": low
    "elicitation:create": low
  risk_max: high
`;

/** Checks that fail through the gateway for a stated reason (anything else failing is a regression). */
const KNOWN_FAILURES: Record<string, string> = {};

interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

const pkg = JSON.parse(
  readFileSync(join(root, 'node_modules/@modelcontextprotocol/conformance/package.json'), 'utf8'),
) as { version: string };
const suite = join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const major = Number(process.versions.node.split('.')[0]);

const arx = inProcessPdp(POLICY, 'agt_conformance');
const gw = await createMcpGateway({
  connector: 'conformance-mcp',
  upstream: {
    command: process.execPath,
    args: ['--import', 'tsx', join(root, 'test/e2e/fixtures/conformance-upstream.ts')],
    cwd: root,
  },
  arx,
});
const server = await gw.listen('127.0.0.1', 0);
const out = mkdtempSync(join(tmpdir(), 'arx-mcp-conformance-'));
// `all`: the active scenarios and the pending ones (JSON Schema 2020-12, SSE polling).
const args = [suite, 'server', '--suite', 'all', '--url', server.url, '--output-dir', out];
const [cmd, argv] = major >= 22 ? [process.execPath, args] : ['npx', ['-y', '-p', 'node@22', 'node', ...args]];
try {
  await run(cmd as string, argv as string[], { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }).catch(
    (e: { stdout?: string; code?: number }) => {
      // The suite exits non-zero when a check fails; the results directory says which.
      if (e.code === undefined) throw e;
    },
  );
} finally {
  await server.close();
  await gw.close();
}

const files: string[] = [];
const walk = (d: string) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (f === 'checks.json') files.push(p);
  }
};
walk(out);
if (files.length === 0) throw new Error(`the conformance suite wrote no checks.json under ${out}`);

const scenarios: Record<string, { pass: number; fail: number; warn: number; failures: string[]; warnings: string[] }> =
  {};
let unexpected = 0;
for (const f of files.sort()) {
  const scenario = f
    .slice(out.length + 1)
    .split('/')[0]!
    .replace(/^server-/, '')
    .replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
  const checks = JSON.parse(readFileSync(f, 'utf8')) as Check[];
  scenarios[scenario] ??= { pass: 0, fail: 0, warn: 0, failures: [], warnings: [] };
  const s = scenarios[scenario];
  for (const c of checks) {
    if (c.status === 'SUCCESS') s.pass++;
    else if (c.status === 'WARNING') {
      s.warn++;
      s.warnings.push(`${c.id}: ${c.errorMessage ?? ''}`);
    } else if (c.status === 'FAILURE') {
      s.fail++;
      const known = KNOWN_FAILURES[c.id];
      s.failures.push(`${c.id}: ${c.errorMessage ?? ''}${known ? ` (known: ${known})` : ''}`);
      if (!known) unexpected++;
    }
  }
}
rmSync(out, { recursive: true, force: true });
const totals = Object.values(scenarios).reduce(
  (a, s) => ({ pass: a.pass + s.pass, fail: a.fail + s.fail, warn: a.warn + s.warn }),
  { pass: 0, fail: 0, warn: 0 },
);
for (const [name, s] of Object.entries(scenarios)) {
  process.stdout.write(`${s.fail ? 'FAIL' : 'ok  '} ${name}: ${s.pass} passed, ${s.fail} failed, ${s.warn} warnings\n`);
  for (const f of s.failures) process.stdout.write(`       failed: ${f}\n`);
  for (const w of s.warnings) process.stdout.write(`       warning: ${w}\n`);
}
process.stdout.write(
  `conformance ${pkg.version}: ${Object.keys(scenarios).length} scenarios, ${totals.pass} checks passed, ${totals.fail} failed (${unexpected} not known), ${totals.warn} warnings; ${arx.audit.length} calls recorded by the gateway\n`,
);
writeFileSync(
  process.env.ARX_CONFORMANCE_OUT ?? join(root, 'sdk/mcp-gateway/conformance.json'),
  `${JSON.stringify(
    {
      suite: `@modelcontextprotocol/conformance ${pkg.version}`,
      target:
        'createMcpGateway().listen() (arx mcp-gateway --listen) → test/e2e/fixtures/conformance-upstream.ts (stdio)',
      protocol: '2025-11-25',
      node_for_suite: major >= 22 ? process.version : 'node@22 (npx)',
      totals,
      unexpected_failures: unexpected,
      scenarios,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = unexpected ? 1 : 0;
