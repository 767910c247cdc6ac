import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { run } from '../../../cli/commands/verify.js';
import { main } from '../../../cli/arx.js';
import type { AuditBlock } from '../../../lambdas/audit/core/block.js';
import { blockKey, GENESIS_STATE, headBytes, sealBlock } from '../../../lambdas/audit/core/block.js';
import { buildTimestampRequest, tokenFromResponse } from '../../../lambdas/audit/core/rfc3161.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { localSigner, makeChain, startLocalTsa, type LocalSigner } from '../../unit/audit/fixtures.js';
import { createLockedBucket, s3, suffix } from './env.js';

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
    const r = await exec('npx', [
      'tsx',
      'cli/arx-verify.ts',
      join(dir, 'good'),
      '--audit-keys',
      jwksFile,
      '--event',
      blocks[1]!.events[1]!.event_id,
    ]);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^OK chain of 3 block\(s\), 13 event\(s\).*signatures verified.*included in blk-000000000002 at leaf 5$/,
    );
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

  it('verifies an S3 prefix and fails on a block missing there', async () => {
    const bucket = `arx-verify-${suffix()}`;
    await s3().send(new CreateBucketCommand({ Bucket: bucket }));
    for (const b of blocks)
      await s3().send(
        new PutObjectCommand({ Bucket: bucket, Key: blockKey(T, b.head.height), Body: JSON.stringify(b) }),
      );
    const ok = capture();
    expect(await run([`s3://${bucket}/tenants/${T}/blocks`, '--jwks', jwksFile], ok.out, ok.err)).toBe(0);
    expect(ok.lines.join('')).toMatch(/^OK chain of 3 block/);

    const holey = `arx-verify-${suffix()}`;
    await s3().send(new CreateBucketCommand({ Bucket: holey }));
    for (const b of [blocks[0]!, blocks[2]!])
      await s3().send(
        new PutObjectCommand({ Bucket: holey, Key: blockKey(T, b.head.height), Body: JSON.stringify(b) }),
      );
    const bad = capture();
    expect(await run([`s3://${holey}/tenants/${T}/blocks/`, '--unsigned'], bad.out, bad.err)).toBe(1);
    expect(bad.lines.join('')).toMatch(
      /^FAIL blk-000000000003 \(tenants\/tnt-cli\/blocks\/000000000003\.json\): height 3 where 2 was expected/,
    );
  });

  it('is also `arx verify`, and exits 1 for an unknown --event and 2 on usage errors', async () => {
    const c = capture();
    const orig = process.stdout.write.bind(process.stdout);
    expect(await run([join(dir, 'good'), '--unsigned', '--event', 'aev_nope'], c.out, c.err)).toBe(1);
    expect(c.lines.join('')).toMatch(/event aev_nope is not in any block/);
    const u = capture();
    expect(await run(['--bogus'], u.out, u.err)).toBe(2);
    let printed = '';
    process.stdout.write = ((s: string) => {
      printed += s;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await main(['verify', join(dir, 'good'), '--jwks', jwksFile])).toBe(0);
    } finally {
      process.stdout.write = orig;
    }
    expect(printed).toMatch(/^OK chain of 3 block/);
  });
});

describe('arx-verify against an insider (F7, F28)', () => {
  const versionedBucket = async (): Promise<string> => {
    const bucket = `arx-verify-${suffix()}`;
    await createLockedBucket(bucket); // versioned, Object Lock COMPLIANCE, as lib/audit.ts creates it
    return bucket;
  };
  const put = (bucket: string, b: AuditBlock) =>
    s3().send(new PutObjectCommand({ Bucket: bucket, Key: blockKey(T, b.head.height), Body: JSON.stringify(b) }));

  it('F7: a second, rewritten version of a block in a versioned bucket fails naming that block', async () => {
    const bucket = await versionedBucket();
    for (const b of blocks) await put(bucket, b);
    // The insider re-chains from block 2 without one event, re-signs with a key that is in the key set, and writes new versions.
    const events = blocks.flatMap((b) => b.events);
    const { blocks: forged } = await rechain(
      events.filter((e) => e.event_id !== blocks[1]!.events[0]!.event_id),
      [4, 1, 7],
    );
    for (const b of forged.slice(1)) await put(bucket, b);
    const latestOnly = capture();
    // The latest versions alone form a valid chain: that is exactly what the old verifier accepted.
    expect(
      (
        await verifyChain(
          forged.map((b) => ({ name: `${b.head.height}.json`, text: JSON.stringify(b) })),
          { jwks: [signer.jwk] },
        )
      ).ok,
    ).toBe(true);
    expect(
      await run([`s3://${bucket}/tenants/${T}/blocks`, '--audit-keys', jwksFile], latestOnly.out, latestOnly.err),
    ).toBe(1);
    expect(latestOnly.lines.join('')).toMatch(
      /^FAIL blk-000000000002 \(tenants\/tnt-cli\/blocks\/000000000002\.json\): object version \S+ differs from the first stored version \S+: the block was rewritten/,
    );
  });

  it('F7: a later version that only adds the RFC 3161 timestamp (re-anchoring) still verifies', async () => {
    const bucket = await versionedBucket();
    for (const b of blocks) await put(bucket, b);
    const tsa = await startLocalTsa();
    try {
      const { der, nonceHex } = buildTimestampRequest(blocks[0]!.block_hash);
      const resp = await fetch(tsa.url, {
        method: 'POST',
        body: der,
        headers: { 'content-type': 'application/timestamp-query' },
      });
      const token = tokenFromResponse(
        new Uint8Array(await resp.arrayBuffer()),
        blocks[0]!.block_hash,
        nonceHex,
      ).toString('base64');
      // This chain was sealed at a fixed past time: accept the lag explicitly.
      await put(bucket, {
        ...blocks[0]!,
        timestamp: { token, tsa_url: tsa.url, anchored_at: new Date().toISOString() },
      });
      const ok = capture();
      const caFile = join(dir, 'tsa-ca.pem');
      writeFileSync(caFile, tsa.caPem);
      expect(
        await run(
          [
            `s3://${bucket}/tenants/${T}/blocks`,
            '--audit-keys',
            jwksFile,
            '--tsa-ca',
            caFile,
            '--max-anchor-lag',
            String(400 * 86_400),
          ],
          ok.out,
          ok.err,
        ),
      ).toBe(0);
      expect(ok.lines.join('')).toMatch(/^OK chain of 3 block.*1 anchored \/ 2 un-anchored/);
      // The same stamp is too late for the default bound of one day after sealed_at.
      const late = capture();
      expect(
        await run(
          [`s3://${bucket}/tenants/${T}/blocks`, '--audit-keys', jwksFile, '--tsa-ca', caFile],
          late.out,
          late.err,
        ),
      ).toBe(1);
      expect(late.lines.join('')).toMatch(/^FAIL blk-000000000001 .*genTime \S+ is more than 86400 s after sealed_at/);
      // Replacing that timestamp again is a rewrite.
      await put(bucket, blocks[0]!);
      const again = capture();
      expect(await run([`s3://${bucket}/tenants/${T}/blocks`, '--audit-keys', jwksFile], again.out, again.err)).toBe(1);
      expect(again.lines.join('')).toMatch(
        /^FAIL blk-000000000001 .*replaces the RFC 3161 timestamp of an earlier version/,
      );
    } finally {
      await tsa.close();
    }
  });

  it('F7: a block hidden behind a delete marker fails naming it', async () => {
    const bucket = await versionedBucket();
    for (const b of blocks) await put(bucket, b);
    await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: blockKey(T, 3) }));
    const c = capture();
    expect(await run([`s3://${bucket}/tenants/${T}/blocks`, '--audit-keys', jwksFile], c.out, c.err)).toBe(1);
    expect(c.lines.join('')).toMatch(
      /^FAIL tenants\/tnt-cli\/blocks\/000000000003\.json: the block object was deleted/,
    );
  });

  it('F28: --expect-head and --min-height detect a truncated tail', async () => {
    const head = blocks[2]!.block_hash;
    writeChain(join(dir, 'short'), blocks.slice(0, 2));
    const ok = capture();
    expect(
      await run(
        [join(dir, 'good'), '--audit-keys', jwksFile, '--expect-head', head, '--min-height', '3'],
        ok.out,
        ok.err,
      ),
    ).toBe(0);
    expect(ok.lines.join('')).toContain(`height 3, head ${head}`);
    const h = capture();
    expect(await run([join(dir, 'short'), '--audit-keys', jwksFile, '--expect-head', head], h.out, h.err)).toBe(1);
    expect(h.lines.join('')).toMatch(new RegExp(`^FAIL \\(chain\\): expected head ${head} is not in the chain`));
    const m = capture();
    expect(await run([join(dir, 'short'), '--audit-keys', jwksFile, '--min-height', '3'], m.out, m.err)).toBe(1);
    expect(m.lines.join('')).toMatch(/^FAIL \(chain\): chain height 2 is below the expected minimum 3/);
    // An older expected head inside a longer chain is fine (the chain grew since).
    const older = capture();
    expect(
      await run(
        [join(dir, 'good'), '--audit-keys', jwksFile, '--expect-head', blocks[0]!.block_hash],
        older.out,
        older.err,
      ),
    ).toBe(0);
  });

  it('F28: refuses a plain-http key set off loopback, and reports OK without keys only with --unsigned', async () => {
    const h = capture();
    expect(
      await run(
        [join(dir, 'good'), '--audit-keys', 'http://keys.example.com/tenants/t/.well-known/audit-keys.json'],
        h.out,
        h.err,
      ),
    ).toBe(1);
    expect(h.lines.join('')).toMatch(/refusing the plain-http key set/);
    const server = createServer((_q, r) =>
      r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [signer.jwk] })),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const loop = capture();
      const port = (server.address() as { port: number }).port;
      expect(
        await run([join(dir, 'good'), '--audit-keys', `http://127.0.0.1:${port}/keys.json`], loop.out, loop.err),
      ).toBe(0);
      expect(loop.lines.join('')).toMatch(/signatures verified/);
    } finally {
      server.close();
    }
    const none = capture();
    expect(await run([join(dir, 'good')], none.out, none.err)).toBe(2);
    expect(none.lines.join('')).toMatch(/audit key set \(--audit-keys\), or --unsigned/);
    const unsigned = capture();
    expect(await run([join(dir, 'good'), '--unsigned'], unsigned.out, unsigned.err)).toBe(0);
    expect(unsigned.lines.join('')).toMatch(/signatures NOT checked \(unsigned mode\)/);
  });

  it('F7: --require-anchored needs --tsa-ca (usage error, exit 2)', async () => {
    const c = capture();
    expect(await run([join(dir, 'good'), '--audit-keys', jwksFile, '--require-anchored'], c.out, c.err)).toBe(2);
    expect(c.lines.join('')).toMatch(/--require-anchored needs --tsa-ca/);
  });
});

/** Seals `events` afresh into blocks of `sizes`, signed by the suite's key (what an insider with kms:Sign does). */
async function rechain(
  events: AuditBlock['events'][number][],
  sizes: readonly number[],
): Promise<{ blocks: AuditBlock[] }> {
  let state = GENESIS_STATE;
  const out: AuditBlock[] = [];
  let i = 0;
  for (const n of sizes) {
    const evs = events.slice(i, i + n);
    i += n;
    const s = sealBlock({
      tenantId: T,
      prev: state,
      events: evs,
      sealedAt: new Date('2026-01-01T01:00:00Z'),
      kid: signer.kid,
    });
    out.push({
      head: s.head,
      block_hash: s.block_hash,
      signature: await signer.sign(headBytes(s.head)),
      events: evs,
      timestamp: null,
    });
    state = s.next;
  }
  return { blocks: out };
}
