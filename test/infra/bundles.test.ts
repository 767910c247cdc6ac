import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGY } from '../../lambdas/topology.js';
import { PROJECT_ROOT } from '../../lib/arx-stack.js';
import { STACK_ID } from '../../lib/synth.js';

/** Runs a command without blocking the test worker's event loop; resolves with its exit status and output. */
function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NODE_OPTIONS: '--enable-source-maps' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** Imports one bundle in a fresh Node process and reports whether it exports a `handler` function. */
const PROBE = `
const m = await import(process.argv[1]);
if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(2); }
`;

let outdir: string;
let assets: Map<string, string>;

beforeAll(async () => {
  // The production path: the CDK CLI runs bin/arx.ts, esbuild bundles every function.
  outdir = mkdtempSync(join(tmpdir(), 'arx-bundles-'));
  const synth = await run(join(PROJECT_ROOT, 'node_modules/.bin/cdk'), ['synth', '-q', '-o', outdir], { cwd: PROJECT_ROOT, timeoutMs: 540_000 });
  if (synth.status !== 0) throw new Error(`cdk synth failed (${synth.status}):\n${synth.output}`);
  const template = JSON.parse(readFileSync(join(outdir, `${STACK_ID}.template.json`), 'utf8')) as { Resources: Record<string, any> };
  assets = new Map();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const key = String(r.Properties.Code.S3Key).replace(/\.zip$/, '');
    assets.set(r.Properties.Environment.Variables.ARX_FUNCTION_NAME, join(outdir, `asset.${key}`));
  }
}, 600_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('Function bundles (production artefacts)', () => {
  it('bundles every topology function into an index.mjs that Node can load and that exports handler', async () => {
    expect([...assets.keys()].sort()).toEqual(TOPOLOGY.functions.map((f) => f.name).sort());
    const failures: string[] = [];
    for (const [name, dir] of assets) {
      const entry = join(dir, 'index.mjs');
      if (!existsSync(entry)) {
        failures.push(`${name}: no index.mjs in ${readdirSync(dir).join(', ')}`);
        continue;
      }
      // Loading runs module init (SDK clients, wasm); no request is sent.
      const r = await run(process.execPath, ['--input-type=module', '-e', PROBE, entry], { timeoutMs: 60_000 });
      if (r.status !== 0) failures.push(`${name}: ${r.output.split('\n').slice(0, 3).join(' | ')}`);
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
