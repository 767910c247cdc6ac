import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildTimestampRequest,
  tokenFromResponse,
  verifyTimestampToken,
  TimestampError,
} from '../../../lambdas/audit/core/rfc3161.js';
import { eventProof, type AuditBlock } from '../../../lambdas/audit/core/block.js';
import { statusLine, verifyChain, verifyReceipt } from '../../../lambdas/audit/core/verify-chain.js';
import { makeChain, localSigner, sources, startLocalTsa, type LocalSigner, type LocalTsa } from './fixtures.js';

// Spawns openssl / tsx processes: allow for a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

const T = 'tnt_verify';
let signer: LocalSigner;
let tsa: LocalTsa;
let stamp: (hex: string) => Promise<string>;

beforeAll(async () => {
  signer = await localSigner();
  tsa = await startLocalTsa();
  stamp = async (hex) => {
    const { der, nonceHex } = buildTimestampRequest(hex);
    const r = await fetch(tsa.url, {
      method: 'POST',
      body: der,
      headers: { 'content-type': 'application/timestamp-query' },
    });
    return tokenFromResponse(new Uint8Array(await r.arrayBuffer()), hex, nonceHex).toString('base64');
  };
});
afterAll(async () => tsa.close());

const clone = (b: AuditBlock[]): AuditBlock[] => JSON.parse(JSON.stringify(b)) as AuditBlock[];

describe('verifyChain', () => {
  it('accepts an untampered, signed and RFC 3161-anchored chain and reports one status line', async () => {
    const { blocks } = await makeChain(T, signer, [3, 5, 1, 8], stamp);
    const out = await verifyChain(sources(blocks), {
      jwks: [signer.jwk],
      tsaTrustedCertsPem: [tsa.caPem],
      eventId: blocks[2]!.events[0]!.event_id,
    });
    expect(out).toMatchObject({
      ok: true,
      blocks: 4,
      events: 17,
      tree_size: 17,
      anchored: 4,
      unanchored: 0,
      signatures_checked: true,
    });
    expect(statusLine(out)).toMatch(
      /^OK chain of 4 block\(s\), 17 event\(s\).*signatures verified.*4 anchored.*included in blk-000000000003 at leaf 8$/,
    );
  });

  it('fails naming the block when one byte of one event changes', async () => {
    const { blocks } = await makeChain(T, signer, [2, 3, 2]);
    const bad = clone(blocks);
    const e = bad[1]!.events[1]! as { target: string };
    e.target = e.target.replace('0', '1');
    const out = await verifyChain(sources(bad), { jwks: [signer.jwk] });
    expect(out).toEqual({
      ok: false,
      block: 'blk-000000000002 (000000000002.json)',
      reason: expect.stringMatching(/Merkle root does not match/),
    });
  });

  it('fails naming the block after a deleted block', async () => {
    const { blocks } = await makeChain(T, signer, [1, 1, 1, 1]);
    const out = await verifyChain(
      sources(blocks).filter((_, i) => i !== 1),
      { jwks: [signer.jwk] },
    );
    expect(out).toMatchObject({
      ok: false,
      block: 'blk-000000000003 (000000000003.json)',
      reason: expect.stringMatching(/height 3 where 2 was expected/),
    });
  });

  it('fails naming the block when two block files are swapped', async () => {
    const { blocks } = await makeChain(T, signer, [1, 2, 3, 4]);
    const src = sources(blocks);
    const swapped = [
      src[0]!,
      { name: src[1]!.name, text: src[2]!.text },
      { name: src[2]!.name, text: src[1]!.text },
      src[3]!,
    ];
    const out = await verifyChain(swapped, { jwks: [signer.jwk] });
    expect(out).toMatchObject({ ok: false, block: 'blk-000000000003 (000000000002.json)' });
  });

  it('fails when a block head is re-signed by a key outside the JWKS, or its signature is altered', async () => {
    const other = await localSigner();
    const { blocks } = await makeChain(T, signer, [2, 2]);
    const bad = clone(blocks);
    const sig = Buffer.from(bad[1]!.signature, 'base64url');
    sig[5]! ^= 1;
    (bad[1] as { signature: string }).signature = sig.toString('base64url');
    expect(await verifyChain(sources(bad), { jwks: [signer.jwk] })).toMatchObject({
      ok: false,
      block: 'blk-000000000002 (000000000002.json)',
      reason: expect.stringMatching(/signature does not verify/),
    });
    expect(await verifyChain(sources(blocks), { jwks: [other.jwk] })).toMatchObject({
      ok: false,
      block: 'blk-000000000001 (000000000001.json)',
      reason: expect.stringMatching(/not in the audit key set/),
    });
  });

  it('fails when a timestamp token is moved to another block (imprint is that block hash)', async () => {
    const { blocks } = await makeChain(T, signer, [1, 1, 1], stamp);
    const bad = clone(blocks);
    (bad[2] as { timestamp: unknown }).timestamp = bad[0]!.timestamp;
    const out = await verifyChain(sources(bad), { jwks: [signer.jwk] });
    expect(out).toMatchObject({
      ok: false,
      block: 'blk-000000000003 (000000000003.json)',
      reason: expect.stringMatching(/message imprint/),
    });
  });

  it('fails when an event is duplicated into a later block', async () => {
    const { blocks } = await makeChain(T, signer, [2, 2]);
    const bad = clone(blocks);
    (bad[1]!.events as unknown[])[0] = bad[0]!.events[0];
    const out = await verifyChain(sources(bad), { unsigned: true });
    expect(out).toMatchObject({ ok: false, block: 'blk-000000000002 (000000000002.json)' });
  });

  it('reports un-anchored blocks and unchecked signatures in the status line (explicit unsigned mode)', async () => {
    const { blocks } = await makeChain(T, signer, [2]);
    const out = await verifyChain(sources(blocks), { unsigned: true });
    expect(statusLine(out)).toMatch(/signatures NOT checked.*0 anchored \/ 1 un-anchored/);
  });
});

describe('verifyChain: time (F7)', () => {
  it('F7: fails when the TSA genTime is before the block was sealed (a head back-dated or stamped out of order)', async () => {
    const { blocks } = await makeChain(T, signer, [2], stamp, () => new Date(Date.now() + 3_600_000));
    const out = await verifyChain(sources(blocks), { jwks: [signer.jwk], tsaTrustedCertsPem: [tsa.caPem] });
    expect(out).toMatchObject({
      ok: false,
      block: 'blk-000000000001 (000000000001.json)',
      reason: expect.stringMatching(/genTime \S+ is before the block was sealed/),
    });
  });

  it('F7: fails when sealed_at goes backwards between blocks', async () => {
    const { blocks } = await makeChain(
      T,
      signer,
      [1, 1],
      undefined,
      (h) => new Date(Date.parse('2026-01-02T00:00:00Z') - h * 1000),
    );
    const out = await verifyChain(sources(blocks), { jwks: [signer.jwk] });
    expect(out).toMatchObject({
      ok: false,
      block: 'blk-000000000002 (000000000002.json)',
      reason: expect.stringMatching(/sealed_at .* is earlier than the previous block's/),
    });
  });

  it('F7/F28: refuses to report OK without a key set unless unsigned, and --require-anchored without a TSA CA', async () => {
    const { blocks } = await makeChain(T, signer, [1]);
    expect(await verifyChain(sources(blocks))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no audit key set/),
    });
    expect(await verifyChain(sources(blocks), { jwks: [signer.jwk], requireAnchored: true })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/needs the TSA CA/),
    });
  });
});

describe('verifyReceipt', () => {
  it('accepts an event receipt and rejects it when moved to another event', async () => {
    const { blocks } = await makeChain(T, signer, [5, 6]);
    const b = blocks[1]!;
    const receipt = eventProof(b, 2);
    expect(() => verifyReceipt(b, receipt)).not.toThrow();
    expect(() => verifyReceipt(b, { ...receipt, event_id: b.events[3]!.event_id })).toThrow(/not this event/);
    const moved = { ...receipt, leaf_hash: eventProof(b, 3).leaf_hash, event_id: b.events[3]!.event_id };
    expect(() => verifyReceipt(b, moved)).toThrow();
  });
});

describe('RFC 3161 (openssl ts as local TSA)', () => {
  it('verifies a token from the TSA: imprint, signature, critical timeStamping EKU, chain to the test CA', async () => {
    const msg = Buffer.from('block head bytes');
    const token = Buffer.from(await stamp(createHash('sha256').update(msg).digest('hex')), 'base64');
    const v = await verifyTimestampToken(token, msg, { trustedCertsPem: [tsa.caPem] });
    expect(v.tsaSubject).toContain('ARX Test TSA');
    await expect(verifyTimestampToken(token, Buffer.from('other head'))).rejects.toBeInstanceOf(TimestampError);
  });

  it('rejects a token whose signed content (genTime) was altered', async () => {
    const msg = Buffer.from('another head');
    const token = Buffer.from(await stamp(createHash('sha256').update(msg).digest('hex')), 'base64');
    const i = token.indexOf(Buffer.from('Z', 'latin1')); // end of GeneralizedTime genTime
    const other = Buffer.from(token);
    other[i - 1] = other[i - 1] === 0x30 ? 0x31 : 0x30;
    await expect(verifyTimestampToken(other, msg)).rejects.toThrow(/signature|TSTInfo/);
  });

  it('rejects a validly signed token whose signer certificate lacks the timeStamping EKU', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const asn1js = await import('asn1js');
    const pkijs = await import('pkijs');
    const msg = Buffer.from('head signed by a non-TSA');
    const good = Buffer.from(await stamp(createHash('sha256').update(msg).digest('hex')), 'base64');
    const ci = new pkijs.ContentInfo({ schema: asn1js.fromBER(good).result });
    const tstInfo = Buffer.from(new pkijs.SignedData({ schema: ci.content }).encapContentInfo.eContent!.getValue());
    const dir = mkdtempSync(join(tmpdir(), 'arx-noeku-'));
    try {
      const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
      o(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'c.pem',
        '-subj',
        '/CN=Not a TSA',
        '-days',
        '1',
      );
      writeFileSync(join(dir, 'tst.der'), tstInfo);
      o(
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-econtent_type',
        '1.2.840.113549.1.9.16.1.4',
        '-in',
        'tst.der',
        '-outform',
        'DER',
        '-out',
        'tok.der',
        '-signer',
        'c.pem',
        '-inkey',
        'k.pem',
        '-md',
        'sha256',
      );
      const forged = readFileSync(join(dir, 'tok.der'));
      await expect(verifyTimestampToken(forged, msg)).rejects.toThrow(/extended key usage/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('always asks with a nonce in minimal DER form, so a TSA never refuses the request for it', async () => {
    // A nonce that starts 0x00 0x10 is not DER: openssl ts refuses it (status 2). 1 request in 256 did.
    for (let i = 0; i < 2000; i++) {
      const { nonceHex } = buildTimestampRequest('ab'.repeat(32));
      const first = Number.parseInt(nonceHex.slice(0, 2), 16);
      expect(nonceHex).toHaveLength(16);
      expect(first >= 0x40 && first <= 0x7f).toBe(true);
    }
    const hashes = Array.from({ length: 40 }, (_, i) => createHash('sha256').update(`n${i}`).digest('hex'));
    for (const h of hashes) expect(await stamp(h)).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('rejects a TSA response whose nonce or imprint does not match the request', async () => {
    const hex = '12'.repeat(32);
    const { der } = buildTimestampRequest(hex);
    const r = await fetch(tsa.url, { method: 'POST', body: der });
    const resp = new Uint8Array(await r.arrayBuffer());
    expect(() => tokenFromResponse(resp, hex, 'ffff')).toThrow(/nonce/);
  });
});

describe('verifyChain (property)', () => {
  it('fails on any single-character change inside a block head or its events', async () => {
    const { blocks } = await makeChain(T, signer, [3, 2]);
    const text = JSON.stringify(blocks[1]);
    const start = text.indexOf('"head":');
    const end = text.indexOf(',"block_hash"');
    const evStart = text.indexOf('"events":');
    const evEnd = text.indexOf(',"timestamp"');
    const positions = [
      ...Array.from({ length: end - start }, (_, i) => start + i),
      ...Array.from({ length: evEnd - evStart }, (_, i) => evStart + i),
    ];
    const good = sources(blocks);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...positions),
        fc.constantFrom(...'abcdefxyz0123456789'.split('')),
        async (pos, ch) => {
          fc.pre(text[pos] !== ch);
          const tampered = text.slice(0, pos) + ch + text.slice(pos + 1);
          const out = await verifyChain([good[0]!, { name: good[1]!.name, text: tampered }], { jwks: [signer.jwk] });
          expect(out.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
