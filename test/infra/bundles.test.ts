import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGY } from '../../lambdas/topology.js';
import { BUNDLE_SETTINGS, BUNDLE_SIDECARS, ESM_REQUIRE_BANNER, packageClosure } from '../../lib/arx-function.js';
import { PROJECT_ROOT } from '../../lib/arx-stack.js';

/** Imports one bundle in a fresh Node process and fails unless it exports a `handler` function. */
const PROBE = `
const m = await import(process.argv[1]);
if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(2); }
`;

function run(args: string[], timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, NODE_OPTIONS: '--enable-source-maps' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

let outdir: string;

/**
 * Builds every topology function the way ArxFunction does (same banner, define, main fields,
 * target, ESM, minify, source maps, externals + copied nodeModules, sidecars), then loads each
 * bundle in Node as Lambda would. Functions with the same externals share one esbuild call with
 * one entry point per function (no code splitting): each output is byte-identical to the
 * function's own build, but the shared modules (AWS SDK, powertools, the capabilities' core) are
 * parsed once instead of 39 times — 83 s → 15 s here.
 */
beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'arx-bundles-'));
  const groups = new Map<string, (typeof TOPOLOGY.functions)[number][]>();
  for (const spec of TOPOLOGY.functions) {
    const key = JSON.stringify([...(spec.nodeModules ?? [])].sort());
    groups.set(key, [...(groups.get(key) ?? []), spec]);
  }
  await Promise.all(
    [...groups].map(([key, specs]) =>
      build({
        entryPoints: specs.map((spec) => ({ in: join(PROJECT_ROOT, spec.entry), out: `${spec.name}/index` })),
        outdir,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: BUNDLE_SETTINGS.target,
        mainFields: [...BUNDLE_SETTINGS.mainFields],
        define: { ...BUNDLE_SETTINGS.define },
        banner: { js: ESM_REQUIRE_BANNER },
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        external: JSON.parse(key) as string[],
        logLevel: 'silent',
      }),
    ),
  );
  for (const spec of TOPOLOGY.functions) {
    const dir = join(outdir, spec.name);
    for (const rel of packageClosure(PROJECT_ROOT, spec.nodeModules ?? [], spec.name)) {
      cpSync(join(PROJECT_ROOT, rel), join(dir, rel), { recursive: true });
    }
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    for (const c of BUNDLE_SIDECARS)
      if (code.includes(c.marker)) copyFileSync(join(PROJECT_ROOT, c.file), join(dir, c.file.split('/').pop()!));
  }
}, 300_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('Function bundles', () => {
  it('loads every topology function bundle in Node (ESM, createRequire/__dirname banner, sidecars) with a handler export', async () => {
    const failures: string[] = [];
    // Two probes at a time: each is a fresh Node process (one per function, as Lambda loads it).
    const queue = [...TOPOLOGY.functions];
    const worker = async (): Promise<void> => {
      for (let spec = queue.shift(); spec; spec = queue.shift()) {
        // Loading runs module init (SDK clients, wasm); no request is sent.
        const r = await run(['--input-type=module', '-e', PROBE, join(outdir, spec.name, 'index.mjs')], 60_000);
        if (r.status !== 0) failures.push(`${spec.name}: ${r.output.split('\n').slice(0, 3).join(' | ')}`);
      }
    };
    await Promise.all([worker(), worker()]);
    expect(failures.sort()).toEqual([]);
  }, 300_000);
});
