import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { run } from '../../../cli/commands/verify.js';
import { main } from '../../../cli/arx.js';
import type { AuditBlock } from '../../../lambdas/audit/core/block.js';
import { blockKey } from '../../../lambdas/audit/core/block.js';
import { localSigner, makeChain, type LocalSigner } from '../../unit/audit/fixtures.js';
import { s3, suffix } from './env.js';

// Spawns openssl / tsx processes: allow for a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

const exec = promisify(execFile);
const T = 'tnt-cli';
let dir: string;
let signer: LocalSigner;
let blocks: AuditBlock[];
let jwksFile: string;

const writeChain = (d: string, bs: readonly AuditBlock[]): void => {
  mkdirSync(d, { recursive: true });
  for (const b of bs) writeFileSync(join(d, `${String(b.head.height).padStart(12, '0')}.json`), JSON.stringify(b));
};
const capture = () => {
  const lines: string[] = [];
  return { lines, out: (s: string) => lines.push(s), err: (s: string) => lines.push(s) };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arx-verify-'));
  signer = await localSigner();
  ({ blocks } = await makeChain(T, signer, [4, 2, 7]));
  writeChain(join(dir, 'good'), blocks);
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [signer.jwk] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('arx-verify (CLI)', () => {
  it('exits 0 with one status line for a good directory, run as a process', async () => {
    const r = await exec('npx', ['tsx', 'cli/arx-verify.ts', join(dir, 'good'), '--jwks', jwksFile, '--event', blocks[1]!.events[1]!.event_id]);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^OK chain of 3 block\(s\), 13 event\(s\).*signatures verified.*included in blk-000000000002 at leaf 5$/);
  }, 120_000);

  it('exits 1 naming the first bad block when one byte of an event changes, run as a process', async () => {
    const bad = JSON.parse(JSON.stringify(blocks)) as AuditBlock[];
    (bad[2]!.events[3] as { action: string }).action = 'okta:users:deactivatf';
    writeChain(join(dir, 'bad'), bad);
    const r = await exec('npx', ['tsx', 'cli/arx-verify.ts', join(dir, 'bad'), '--jwks', jwksFile]).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toMatch(/^FAIL blk-000000000003 \(000000000003\.json\): Merkle root does not match/);
  }, 120_000);

  it('verifies an S3 prefix (latest object versions) and fails on a deleted block there', async () => {
    const bucket = `arx-verify-${suffix()}`;
    await s3().send(new CreateBucketCommand({ Bucket: bucket }));
    for (const b of blocks) await s3().send(new PutObjectCommand({ Bucket: bucket, Key: blockKey(T, b.head.height), Body: JSON.stringify(b) }));
    const ok = capture();
    expect(await run([`s3://${bucket}/tenants/${T}/blocks`, '--jwks', jwksFile], ok.out, ok.err)).toBe(0);
    expect(ok.lines.join('')).toMatch(/^OK chain of 3 block/);

    const holey = `arx-verify-${suffix()}`;
    await s3().send(new CreateBucketCommand({ Bucket: holey }));
    for (const b of [blocks[0]!, blocks[2]!]) await s3().send(new PutObjectCommand({ Bucket: holey, Key: blockKey(T, b.head.height), Body: JSON.stringify(b) }));
    const bad = capture();
    expect(await run([`s3://${holey}/tenants/${T}/blocks/`], bad.out, bad.err)).toBe(1);
    expect(bad.lines.join('')).toMatch(/^FAIL blk-000000000003 \(tenants\/tnt-cli\/blocks\/000000000003\.json\): height 3 where 2 was expected/);
  });

  it('is also `arx verify`, and exits 1 for an unknown --event and 2 on usage errors', async () => {
    const c = capture();
    const orig = process.stdout.write.bind(process.stdout);
    expect(await run([join(dir, 'good'), '--event', 'aev_nope'], c.out, c.err)).toBe(1);
    expect(c.lines.join('')).toMatch(/event aev_nope is not in any block/);
    const u = capture();
    expect(await run(['--bogus'], u.out, u.err)).toBe(2);
    let printed = '';
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(await main(['verify', join(dir, 'good'), '--jwks', jwksFile])).toBe(0);
    } finally {
      process.stdout.write = orig;
    }
    expect(printed).toMatch(/^OK chain of 3 block/);
  });
});
