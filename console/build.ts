/**
 * Builds the console with esbuild's JS API: one ES module, one stylesheet and the HTML shell.
 * `buildConsole()` answers the files in memory (the local runtime serves them at /console/);
 * `npx tsx console/build.ts [outdir]` writes them (default dist/console) for the CDK's
 * BucketDeployment.
 */
import { build } from 'esbuild';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};
const typeOf = (p: string): string => TYPES[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream';

/** The built console, keyed by path under /console/ ('index.html', 'app.js', 'app.css'). */
export async function buildConsole(opts: { minify?: boolean } = {}): Promise<Map<string, ConsoleFile>> {
  const out = await build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    bundle: true,
    write: false,
    outdir: '/console-out',
    format: 'esm',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: opts.minify ?? true,
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = new Map<string, ConsoleFile>();
  for (const f of out.outputFiles) {
    const name = f.path.slice('/console-out/'.length);
    files.set(name, { body: Buffer.from(f.contents), contentType: typeOf(name) });
  }
  files.set('index.html', {
    body: readFileSync(join(here, 'index.html')),
    contentType: TYPES['.html']!,
  });
  return files;
}

/** Writes the built console to `outdir` (the CDK deploys that folder). */
export async function writeConsole(outdir: string): Promise<string[]> {
  const files = await buildConsole();
  mkdirSync(outdir, { recursive: true });
  for (const [name, f] of files) {
    mkdirSync(dirname(join(outdir, name)), { recursive: true });
    writeFileSync(join(outdir, name), f.body);
  }
  return [...files.keys()];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = resolve(process.argv[2] ?? 'dist/console');
  writeConsole(outdir).then(
    (names) => process.stdout.write(`console built into ${outdir}: ${names.join(', ')}\n`),
    (e: unknown) => {
      process.stderr.write(`console build failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
