/**
 * Builds the PDP extension layer:
 *
 *   <out>/extensions/arx-pdp                  launcher (Lambda starts every file in /opt/extensions)
 *   <out>/arx-pdp/index.mjs                   esbuild ESM bundle of src/main.ts (AWS SDK included)
 *   <out>/arx-pdp/node_modules/@cedar-policy/cedar-wasm   the wasm package (loads its .wasm file)
 *
 * Used by lib/policy.ts (CDK asset bundling) and by the PDP bench's memory measurement.
 */
import { build, buildSync, type BuildOptions } from 'esbuild';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = join(here, '..', '..');
const ESM_REQUIRE_BANNER =
  "import { createRequire as __arxCreateRequire } from 'module';const require = __arxCreateRequire(import.meta.url);";

/** Node flags the launcher runs the extension with (the bench's memory child uses the same). */
export const NODE_FLAGS = ['--max-semi-space-size=2'] as const;

/** Environment the launcher sets: fewer glibc malloc arenas (one per thread by default inflates RSS). */
export const LAUNCH_ENV = { MALLOC_ARENA_MAX: '2' } as const;

export const LAUNCHER = `#!/bin/bash
# ARX PDP extension: external Lambda extension (registers through the Extensions API).
set -euo pipefail
NODE_BIN="$(command -v node || echo /var/lang/bin/node)"
# small young generation: the extension's working set is tiny, and a 256 MB function has no room for idle heap
export MALLOC_ARENA_MAX=${LAUNCH_ENV.MALLOC_ARENA_MAX}
exec "$NODE_BIN" ${NODE_FLAGS.join(' ')} /opt/arx-pdp/index.mjs
`;

const options = (entry: string, outfile: string): BuildOptions => ({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outfile,
  external: ['@cedar-policy/cedar-wasm', '@cedar-policy/cedar-wasm/*'],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
});

function copyWasm(outDir: string): void {
  const wasmSrc = join(PROJECT_ROOT, 'node_modules', '@cedar-policy', 'cedar-wasm');
  const wasmDst = join(outDir, 'arx-pdp', 'node_modules', '@cedar-policy', 'cedar-wasm');
  mkdirSync(wasmDst, { recursive: true });
  cpSync(join(wasmSrc, 'package.json'), join(wasmDst, 'package.json'));
  cpSync(join(wasmSrc, 'nodejs'), join(wasmDst, 'nodejs'), { recursive: true });
}

/** Bundles one entry of the extension into `<outDir>/arx-pdp/<name>.mjs` beside cedar-wasm. */
export async function bundleEntry(entry: string, outDir: string, name = 'index'): Promise<string> {
  const outfile = join(outDir, 'arx-pdp', `${name}.mjs`);
  await build(options(entry, outfile));
  copyWasm(outDir);
  return outfile;
}

function writeLauncher(outDir: string): void {
  mkdirSync(join(outDir, 'extensions'), { recursive: true });
  writeFileSync(join(outDir, 'extensions', 'arx-pdp'), LAUNCHER);
  chmodSync(join(outDir, 'extensions', 'arx-pdp'), 0o755);
}

/** Synchronous build, for CDK local bundling (`ILocalBundling.tryBundle` must be synchronous). */
export function buildLayerSync(outDir: string): void {
  buildSync(options(join(here, 'src', 'main.ts'), join(outDir, 'arx-pdp', 'index.mjs')));
  copyWasm(outDir);
  writeLauncher(outDir);
}

/** Writes the complete layer into `outDir`. */
export async function buildLayer(outDir: string): Promise<void> {
  await bundleEntry(join(here, 'src', 'main.ts'), outDir);
  writeLauncher(outDir);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(PROJECT_ROOT, 'cdk.out', 'pdp-layer');
  buildLayer(out).then(() => process.stdout.write(`layer written to ${out}\n`));
}
