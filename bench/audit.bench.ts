/**
 * Audit chain benchmarks (`npx tsx bench/run.ts audit`):
 *  - sealing a 10,000-event block onto a running log (canonical JSON, RFC 6962 leaf hashes,
 *    tree root, consistency proof, next frontier — no KMS, no S3), beside a raw SHA-256 pass
 *    over the same event bytes measured in the same run;
 *  - inclusion and consistency proof verification p50, beside one SHA-256 of a 65-byte node.
 */
import { createHash, hash as oneShot } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchResult } from './run.js';
import { GENESIS_STATE, sealBlock, type ChainState } from '../lambdas/audit/core/block.js';
import { buildAuditEvent, leafData, leafString, type AuditEvent } from '../lambdas/audit/core/events.js';
import { LogView, verifyConsistency, verifyInclusion } from '../lambdas/audit/core/merkle.js';

const N = 10_000;
const SALT = Buffer.alloc(32, 9); // hash_of_full_payload salt (random per event in ARX)
const PRIOR = 1_234_567; // leaves already in the tenant's log before this block

function events(n: number, offset = 0): AuditEvent[] {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  return Array.from(
    { length: n },
    (_, i) =>
      buildAuditEvent(
        {
          tenant_id: 'tnt_bench',
          event_type: i % 3 === 0 ? 'decision.approved' : 'operation.executed',
          agent_id: `agt_${i % 50}`,
          principal_spiffe_id: `spiffe://arx.example/tnt_bench/agent/agt_${i % 50}`,
          action: 'okta:users:deactivate',
          target: `okta:user:00u${offset + i}`,
          decision: 'permit',
          occurred_at: new Date(t0 + i).toISOString(),
          correlation_id: `cor_${offset + i}`,
          trace_id: 'f'.repeat(32),
          payload: { user_id: `00u${i}`, email: `u${i}@example.com` },
        },
        `aev_${String(offset + i).padStart(26, '0')}`,
        new Date(t0 + i),
        SALT,
      ).event,
  );
}

const p50 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const round = (x: number, d = 3): number => Number(x.toFixed(d));

/** A prior state of PRIOR leaves, built from its frontier only (synthetic peaks). */
function priorState(): ChainState {
  // The peaks of PRIOR are arbitrary hashes: sealing only needs the frontier, not the old leaves.
  const peaks = [];
  for (let bit = 2 ** 52, a = 0; bit >= 1; bit /= 2)
    if (PRIOR >= a + bit) {
      peaks.push(createHash('sha256').update(`peak-${a}`).digest());
      a += bit;
    }
  const view = new LogView(PRIOR, peaks, []);
  return {
    height: 99,
    head_hash: 'a'.repeat(64),
    tree_size: PRIOR,
    root: Buffer.from(view.root()).toString('base64'),
    frontier: peaks.map((p) => p.toString('base64')),
  };
}

export async function run(): Promise<BenchResult[]> {
  const evs = events(N);
  const prev = priorState();
  const bytes = evs.map((e) => leafData(e));
  const leaves = evs.map((e) => leafString(e));
  const totalBytes = bytes.reduce((n, b) => n + b.length, 0);
  const runs = 25;

  // Warm up both paths.
  for (let i = 0; i < 3; i++) {
    sealBlock({ tenantId: 'tnt_bench', prev, events: evs, sealedAt: new Date(), kid: 'k' });
    for (const b of bytes) oneShot('sha256', b, 'buffer');
  }
  const seal: number[] = [];
  const sealSer: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < runs; r++) {
    // Interleaved so load on the machine hits both figures alike.
    let t = performance.now();
    sealBlock({ tenantId: 'tnt_bench', prev, events: evs, leaves, sealedAt: new Date(), kid: 'k' });
    seal.push(performance.now() - t);
    t = performance.now();
    for (const b of bytes) oneShot('sha256', b, 'buffer');
    raw.push(performance.now() - t);
    t = performance.now();
    sealBlock({ tenantId: 'tnt_bench', prev, events: evs, sealedAt: new Date(), kid: 'k' });
    sealSer.push(performance.now() - t);
  }
  // Genesis block (no prior log) for reference.
  const sealGenesis: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    sealBlock({ tenantId: 'tnt_bench', prev: GENESIS_STATE, events: evs, leaves, sealedAt: new Date(), kid: 'k' });
    sealGenesis.push(performance.now() - t);
  }

  // Proof verification p50 over the sealed block.
  const sealed = sealBlock({ tenantId: 'tnt_bench', prev, events: evs, sealedAt: new Date(), kid: 'k' });
  const view = new LogView(
    PRIOR,
    prev.frontier.map((f) => Buffer.from(f, 'base64')),
    sealed.leafHashes as Uint8Array[],
  );
  const root = view.root();
  const samples = 2000;
  const idx = Array.from({ length: samples }, (_, i) => PRIOR + ((i * 7919) % N));
  const proofs = idx.map((i) => view.inclusionProof(i));
  const incl: number[] = [];
  const node: number[] = [];
  const node65 = Buffer.alloc(65, 1);
  for (let s = 0; s < samples; s++) {
    const i = idx[s]!;
    let t = performance.now();
    verifyInclusion(i, view.size, sealed.leafHashes[i - PRIOR]!, proofs[s]!, root);
    incl.push(performance.now() - t);
    t = performance.now();
    oneShot('sha256', node65, 'buffer');
    node.push(performance.now() - t);
  }
  const cproof = view.consistencyProof(PRIOR);
  const prevRoot = Buffer.from(prev.root, 'base64');
  const cons: number[] = [];
  for (let s = 0; s < 500; s++) {
    const t = performance.now();
    verifyConsistency(PRIOR, view.size, cproof, prevRoot, root);
    cons.push(performance.now() - t);
  }

  return [
    {
      name: 'seal 10,000-event block onto a running log (leaf hashes + tree + consistency proof + frontier, no KMS/S3), p50',
      unit: 'ms',
      value: round(p50(seal)),
      baseline: round(p50(raw)),
      params: {
        events: N,
        prior_tree_size: PRIOR,
        bytes: totalBytes,
        runs,
        target_ms: 20,
        baseline: "raw SHA-256 of each event's canonical bytes, same run",
      },
    },
    {
      name: 'seal 10,000-event block incl. re-serialising every event to canonical JSON, p50',
      unit: 'ms',
      value: round(p50(sealSer)),
      baseline: round(p50(raw)),
      params: {
        events: N,
        prior_tree_size: PRIOR,
        runs,
        baseline: "raw SHA-256 of each event's canonical bytes, same run",
        note: 'the sealer normally hashes the leaf strings stored at write time',
      },
    },
    {
      name: 'seal 10,000-event genesis block (hashing + tree), p50',
      unit: 'ms',
      value: round(p50(sealGenesis)),
      baseline: round(p50(raw)),
      params: {
        events: N,
        prior_tree_size: 0,
        runs,
        baseline: "raw SHA-256 of each event's canonical bytes, same run",
      },
    },
    {
      name: 'verify RFC 9162 inclusion proof, p50',
      unit: 'µs',
      value: round(p50(incl) * 1000),
      baseline: round(p50(node) * 1000),
      params: {
        tree_size: view.size,
        proof_length: proofs[0]!.length,
        samples,
        baseline: 'one SHA-256 of a 65-byte node',
      },
    },
    {
      name: 'verify RFC 9162 consistency proof between consecutive heads, p50',
      unit: 'µs',
      value: round(p50(cons) * 1000),
      baseline: round(p50(node) * 1000),
      params: {
        size1: PRIOR,
        size2: view.size,
        proof_length: cproof.length,
        samples: 500,
        baseline: 'one SHA-256 of a 65-byte node',
      },
    },
  ];
}
