import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditBlock } from '../../lambdas/audit/core/block.js';
import { packageAll } from '../../scripts/package.js';
import { localSigner, makeChain } from '../unit/audit/fixtures.js';

// Bundles with esbuild, packs and installs with npm: slow on a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

const exec = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const T = 'tnt-pkg';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs a file with plain Node's PATH (no node_modules/.bin of the checkout, no tsx). */
const runBin = (file: string, args: string[], cwd: string): Promise<Ran> =>
  exec(file, args, { cwd, env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: cwd } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

const writeChain = (d: string, bs: readonly AuditBlock[]): void => {
  mkdirSync(d, { recursive: true });
  for (const b of bs) writeFileSync(join(d, `${String(b.head.height).padStart(12, '0')}.json`), JSON.stringify(b));
};

describe('npm run package: installable arx-cli and arx-sdk tarballs (§2.1)', () => {
  let work: string;
  let prefix: string;
  let tarballs: { cli: string; sdk: string };
  let keys: string;
  let bin: (name: string) => string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'arx-pkg-'));
    expect(relative(REPO, work).startsWith('..')).toBe(true); // a machine path outside the repo
    tarballs = await packageAll(join(work, 'dist'));
    prefix = join(work, 'prefix');
    mkdirSync(prefix);
    await exec(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        tarballs.cli,
        tarballs.sdk,
      ],
      { cwd: work },
    );
    bin = (name) => join(prefix, 'node_modules', '.bin', name);

    const signer = await localSigner();
    const { blocks } = await makeChain(T, signer, [3, 2, 4]);
    writeChain(join(work, 'good'), blocks);
    const bad = JSON.parse(JSON.stringify(blocks)) as AuditBlock[];
    (bad[1]!.events[0] as { target: string }).target = 'okta:user:00uX';
    writeChain(join(work, 'bad'), bad);
    keys = join(work, 'audit-keys.json');
    writeFileSync(keys, JSON.stringify({ keys: [signer.jwk] }));
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes arx-cli-<version>.tgz and arx-sdk-<version>.tgz that declare no dependencies', () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect(tarballs.cli).toBe(join(work, 'dist', `arx-cli-${version}.tgz`));
    expect(tarballs.sdk).toBe(join(work, 'dist', `arx-sdk-${version}.tgz`));
    const cli = JSON.parse(readFileSync(join(prefix, 'node_modules', '@arx', 'cli', 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(cli.bin).toEqual({ arx: 'bin/arx.js', 'arx-verify': 'bin/arx-verify.js' });
    expect(cli.dependencies).toBeUndefined();
    expect(cli.engines).toEqual({ node: '>=20.11' });
    expect(statSync(join(prefix, 'node_modules', '@arx', 'cli', 'bin', 'arx-verify.js')).mode & 0o111).not.toBe(0);
    expect(
      readFileSync(join(prefix, 'node_modules', '@arx', 'cli', 'bin', 'arx-verify.js'), 'utf8').startsWith(
        '#!/usr/bin/env node\n',
      ),
    ).toBe(true);
    expect(existsSync(join(prefix, 'node_modules', '@arx', 'cli', 'node_modules'))).toBe(false);
  });

  it('installed arx-verify: a good chain → exit 0 and one status line', async () => {
    const r = await runBin(bin('arx-verify'), [join(work, 'good'), '--audit-keys', keys], work);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^OK chain of 3 block\(s\), 9 event\(s\).*signatures verified/);
  });

  it('installed arx-verify: a tampered chain → exit 1 naming the block', async () => {
    const r = await runBin(bin('arx-verify'), [join(work, 'bad'), '--audit-keys', keys], work);
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toMatch(/^FAIL blk-000000000002 \(000000000002\.json\): Merkle root does not match/);
  });

  it('installed arx-verify: no arguments → usage, exit 2', async () => {
    const r = await runBin(bin('arx-verify'), [], work);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: arx-verify /);
    expect(r.stdout).toBe('');
  });

  it('installed arx: verify is a subcommand, and no arguments → usage naming every subcommand, exit 2', async () => {
    const ok = await runBin(bin('arx'), ['verify', join(work, 'good'), '--audit-keys', keys], work);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^OK chain of 3 block/);
    const u = await runBin(bin('arx'), [], work);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^usage: arx <approvals\|mcp-gateway\|policy\|terminate\|verify>/);
    const pv = await runBin(bin('arx'), ['policy', 'validate', join(work, 'nope.yaml')], work);
    expect(pv.code).not.toBe(0); // the policy command runs from the bundle (and reports the missing file)
    expect(pv.stderr + pv.stdout).toMatch(/nope\.yaml/);
  });

  it('installed @arx/sdk imports on plain Node and exposes ArxClient and governTool', async () => {
    const r = await runBin(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('@arx/sdk'); console.log(typeof m.ArxClient, typeof m.governTool, typeof m.ActionDenied)",
      ],
      prefix,
    );
    expect(r.stdout.trim()).toBe('function function function');
    expect(existsSync(join(prefix, 'node_modules', '@arx', 'sdk', 'index.d.ts'))).toBe(true);
  });

  it('@arx/sdk exports the LangChain.js and OpenAI Agents adapters as subpaths with the frameworks as optional peers', () => {
    const pkg = JSON.parse(readFileSync(join(prefix, 'node_modules', '@arx', 'sdk', 'package.json'), 'utf8')) as Record<
      string,
      any
    >;
    expect(Object.keys(pkg.exports)).toEqual(['.', './langchain', './openai-agents']);
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependenciesMeta).toEqual({
      '@langchain/core': { optional: true },
      '@openai/agents': { optional: true },
    });
    for (const f of ['langchain.js', 'langchain.d.ts', 'openai-agents.js', 'openai-agents.d.ts'])
      expect(existsSync(join(prefix, 'node_modules', '@arx', 'sdk', f)), f).toBe(true);
    // The frameworks are not bundled: the adapters import them from the agent's own install.
    expect(readFileSync(join(prefix, 'node_modules', '@arx', 'sdk', 'langchain.js'), 'utf8')).toMatch(
      /from\s*"@langchain\/core\/tools"/,
    );
  });

  it('`npx arx-verify` inside the checkout verifies, fails on tampering and prints usage', async () => {
    const ok = await exec('npx', ['--no-install', 'arx-verify', join(work, 'good'), '--audit-keys', keys], {
      cwd: REPO,
    });
    expect(ok.stdout.trim().split('\n')).toHaveLength(1);
    expect(ok.stdout).toMatch(/^OK chain of 3 block/);
    const bad = await exec('npx', ['--no-install', 'arx-verify', join(work, 'bad'), '--audit-keys', keys], {
      cwd: REPO,
    }).then(
      () => ({ code: 0, stdout: '' }),
      (e: Ran) => e,
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL blk-000000000002/);
    const u = await exec('npx', ['--no-install', 'arx-verify'], { cwd: REPO }).then(
      () => ({ code: 0, stderr: '' }),
      (e: Ran) => e,
    );
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^usage: arx-verify /);
  });
});
