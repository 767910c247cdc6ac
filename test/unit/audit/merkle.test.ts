import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LogView,
  ProofError,
  RootMismatchError,
  hashLeaf,
  merkleRoot,
  rootFromFrontier,
  verifyConsistency,
  verifyInclusion,
} from '../../../lambdas/audit/core/merkle.js';

const VECTORS = join(process.cwd(), '..', 'shared', 'vectors', 'merkle', 'testdata');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.json') ? [p] : [];
  });
}
const b = (s: string | null | undefined): Uint8Array => Buffer.from(s ?? '', 'base64');
const rel = (p: string): string => p.slice(VECTORS.length + 1);

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const inclusion = walk(join(VECTORS, 'inclusion'));
const consistency = walk(join(VECTORS, 'consistency'));

describe('Merkle vectors (transparency-dev/merkle testdata, used in place)', () => {
  it('finds every inclusion and consistency vector', () => {
    expect(inclusion.length).toBe(98);
    expect(consistency.length).toBe(98);
  });

  it.each(inclusion.map((p) => [rel(p), p]))('inclusion %s verifies exactly when wantErr is false', (_name, path) => {
    const v = JSON.parse(readFileSync(path, 'utf8')) as InclusionVector;
    const run = (): void => verifyInclusion(v.leafIdx, v.treeSize, b(v.leafHash), (v.proof ?? []).map(b), b(v.root));
    if (v.wantErr) expect(run).toThrow();
    else expect(run).not.toThrow();
  });

  it.each(consistency.map((p) => [rel(p), p]))(
    'consistency %s verifies exactly when wantErr is false',
    (_name, path) => {
      const v = JSON.parse(readFileSync(path, 'utf8')) as ConsistencyVector;
      const run = (): void => verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b), b(v.root1), b(v.root2));
      if (v.wantErr) expect(run).toThrow();
      else expect(run).not.toThrow();
    },
  );
});

const leaves = (n: number, seed = 0): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`leaf-${seed}-${i}`)));

describe('LogView', () => {
  it('generates inclusion proofs that verify for every leaf of trees up to 33 leaves', () => {
    for (let n = 1; n <= 33; n++) {
      const ls = leaves(n);
      const view = new LogView(0, [], ls);
      const root = view.root();
      for (let i = 0; i < n; i++) verifyInclusion(i, n, ls[i]!, view.inclusionProof(i), root);
    }
  });

  it('generates consistency proofs between every pair of sizes up to 20 that verify', () => {
    const ls = leaves(20);
    for (let m = 1; m <= 20; m++)
      for (let n = m; n <= 20; n++) {
        const view = new LogView(0, [], ls.slice(0, n));
        verifyConsistency(m, n, view.consistencyProof(m), merkleRoot(ls.slice(0, m)), view.root());
      }
  });

  it('proves a block from the previous frontier and its own leaves alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 70 }), (m, k) => {
        const all = leaves(m + k, 7);
        const prev = new LogView(0, [], all.slice(0, m));
        const block = new LogView(m, prev.frontier(), all.slice(m));
        const full = new LogView(0, [], all);
        expect(Buffer.from(block.root())).toEqual(Buffer.from(full.root()));
        expect(Buffer.from(rootFromFrontier(prev.frontier()))).toEqual(Buffer.from(prev.root()));
        if (m > 0) verifyConsistency(m, m + k, block.consistencyProof(m), prev.root(), block.root());
        for (let i = m; i < m + k; i++) verifyInclusion(i, m + k, all[i]!, block.inclusionProof(i), block.root());
      }),
      { numRuns: 150 },
    );
  });

  it('rejects a proof when any single byte of the leaf changes (RootMismatchError)', () => {
    const ls = leaves(11);
    const view = new LogView(0, [], ls);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 1, max: 255 }),
        (i, byte, x) => {
          const tampered = Uint8Array.from(ls[i]!);
          tampered[byte] ^= x;
          expect(() => verifyInclusion(i, 11, tampered, view.inclusionProof(i), view.root())).toThrow(
            RootMismatchError,
          );
        },
      ),
    );
  });

  it('throws ProofError when the proof length is wrong', () => {
    const ls = leaves(8);
    const view = new LogView(0, [], ls);
    expect(() => verifyInclusion(3, 8, ls[3]!, view.inclusionProof(3).slice(1), view.root())).toThrow(ProofError);
  });
});
