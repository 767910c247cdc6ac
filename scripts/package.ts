/**
 * `npm run package`: installable tarballs of the command line and the SDK in dist/ (§2.1).
 *
 *   dist/arx-cli-<version>.tgz   bins `arx` and `arx-verify`
 *   dist/arx-sdk-<version>.tgz   `import { ArxClient } from '@arx/sdk'`
 *
 * Each is an esbuild bundle (ESM, Node ≥ 20) with its dependencies inlined, so the tarballs
 * declare no dependencies and install offline: `npm install -g dist/arx-cli-0.1.0.tgz`.
 * Subcommands of `arx` are the files in cli/commands/, found when the bundle is built.
 *
 *   npx tsx scripts/package.ts [--out dist]
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface RootPackage {
  readonly version: string;
  readonly license: string;
  readonly engines: { readonly node: string };
}

const BANNER = [
  '#!/usr/bin/env node',
  // Bundled CommonJS dependencies (the AWS SDK) call require(); give the ESM bundle one.
  "import { createRequire as __arxCreateRequire } from 'node:module';",
  'const require = __arxCreateRequire(import.meta.url);',
  // …and __dirname: cedar-wasm reads cedar_wasm_bg.wasm beside itself (copied next to the bin).
  "import { fileURLToPath as __arxFileURLToPath } from 'node:url';",
  "import { dirname as __arxDirname } from 'node:path';",
  'const __filename = __arxFileURLToPath(import.meta.url);',
  'const __dirname = __arxDirname(__filename);',
].join('\n');

async function bundle(contents: string, outfile: string, opts: { bin: boolean }): Promise<void> {
  await build({
    stdin: { contents, resolveDir: root, sourcefile: outfile.replace(/.*\//, ''), loader: 'ts' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    define: { __ARX_BUNDLED__: 'true' },
    logLevel: 'warning',
    banner: { js: opts.bin ? BANNER : BANNER.split('\n').slice(1).join('\n') },
  });
  if (opts.bin) chmodSync(outfile, 0o755);
}

const lit = (p: string): string => JSON.stringify(join(root, p));

function pack(dir: string, out: string): string {
  const name = execFileSync('npm', ['pack', '--silent', '--offline', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  })
    .trim()
    .split('\n')
    .at(-1)!;
  return join(out, name);
}

export async function packageAll(outDir = join(root, 'dist')): Promise<{ cli: string; sdk: string }> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as RootPackage;
  const stage = join(outDir, 'stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const common = { version: pkg.version, license: pkg.license, type: 'module', engines: pkg.engines };

  // CLI: one bundle per bin; `arx` gets a static map of the subcommands.
  const cliDir = join(stage, 'cli');
  const commands = readdirSync(join(root, 'cli', 'commands'))
    .map((f) => /^([a-z-]+)\.ts$/.exec(f)?.[1])
    .filter((c): c is string => Boolean(c))
    .sort();
  const arxEntry = [
    `import { main } from ${lit('cli/arx.ts')};`,
    `import { runMain } from ${lit('cli/main.ts')};`,
    ...commands.map((c, i) => `import * as c${i} from ${lit(`cli/commands/${c}.ts`)};`),
    `const commands = { ${commands.map((c, i) => `${JSON.stringify(c)}: async () => c${i}`).join(', ')} };`,
    `runMain('arx', (args) => main(args, commands));`,
  ].join('\n');
  await bundle(arxEntry, join(cliDir, 'bin', 'arx.js'), { bin: true });
  await bundle(
    [
      `import { run } from ${lit('cli/commands/verify.ts')};`,
      `import { runMain } from ${lit('cli/main.ts')};`,
      `runMain('arx-verify', run);`,
    ].join('\n'),
    join(cliDir, 'bin', 'arx-verify.js'),
    { bin: true },
  );
  // The policy command validates Cedar in process: cedar-wasm loads its module from __dirname.
  copyFileSync(
    join(root, 'node_modules', '@cedar-policy', 'cedar-wasm', 'nodejs', 'cedar_wasm_bg.wasm'),
    join(cliDir, 'bin', 'cedar_wasm_bg.wasm'),
  );
  writeFileSync(
    join(cliDir, 'package.json'),
    `${JSON.stringify({ name: '@arx/cli', ...common, description: 'ARX command line: arx (policy, approvals, verify, terminate) and the offline audit-chain verifier arx-verify.', bin: { arx: 'bin/arx.js', 'arx-verify': 'bin/arx-verify.js' }, files: ['bin'] }, null, 2)}\n`,
  );
  writeFileSync(join(cliDir, 'README.md'), readmeCli);

  // SDK: the library plus its framework adapters (LangChain.js, OpenAI Agents SDK) as subpath
  // exports sharing one chunk, so `instanceof ActionDenied` holds across them; the frameworks are
  // optional peer dependencies, never bundled.
  const sdkDir = join(stage, 'sdk');
  const entries = ['index', 'langchain', 'openai-agents'];
  await build({
    entryPoints: entries.map((e) => join(root, 'sdk', `${e}.ts`)),
    outdir: sdkDir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    external: ['@langchain/core', '@langchain/core/*', '@openai/agents'],
    logLevel: 'warning',
  });
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      ...entries.map((e) => join(root, 'sdk', `${e}.ts`)),
      '--declaration',
      '--emitDeclarationOnly',
      '--skipLibCheck',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--types',
      'node',
      '--outDir',
      sdkDir,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  const exportsMap = Object.fromEntries(
    entries.map((e) => [e === 'index' ? '.' : `./${e}`, { types: `./${e}.d.ts`, default: `./${e}.js` }]),
  );
  writeFileSync(
    join(sdkDir, 'package.json'),
    `${JSON.stringify(
      {
        name: '@arx/sdk',
        ...common,
        description: 'ARX client SDK: governed execution for AI agents.',
        exports: exportsMap,
        types: './index.d.ts',
        files: ['*.js', '*.d.ts'],
        peerDependencies: { '@langchain/core': '>=0.3', '@openai/agents': '>=0.1' },
        peerDependenciesMeta: { '@langchain/core': { optional: true }, '@openai/agents': { optional: true } },
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(
    join(sdkDir, 'README.md'),
    "# @arx/sdk\n\n`import { ArxClient, governTool } from '@arx/sdk'`; LangChain.js tools from `@arx/sdk/langchain`, an OpenAI Agents SDK guardrail from `@arx/sdk/openai-agents` — see the ARX README.\n",
  );

  const out = { cli: pack(cliDir, outDir), sdk: pack(sdkDir, outDir) };
  rmSync(stage, { recursive: true, force: true });
  return out;
}

const readmeCli = `# @arx/cli

    npm install -g arx-cli-<version>.tgz
    arx-verify <dir | s3://bucket/prefix> --audit-keys <url|file> [--expect-head <hash>] [--min-height N]
    arx <policy|approvals|verify|terminate> …

Exit codes: 0 verified (one status line), 1 a block fails (named), 2 usage.
`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  packageAll(i > 0 ? resolve(process.argv[i + 1]!) : undefined).then(
    (r) => process.stdout.write(`${r.cli}\n${r.sdk}\n`),
    (e: unknown) => {
      process.stderr.write(`package: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
