/**
 * Offline chain verification (what `arx-verify` runs): hash links, ES256 signatures against the
 * tenant JWKS, Merkle roots recomputed from the events, consistency between consecutive heads,
 * RFC 3161 tokens, and optionally one event's inclusion proof. No call back to ARX.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import {
  BLOCK_FORMAT,
  GENESIS_PREV_HASH,
  GENESIS_STATE,
  eventProof,
  headBytes,
  headHash,
  type AuditBlock,
} from './block.js';
import { leafData } from './events.js';
import { LogView, ProofError, RootMismatchError, hashLeaf, verifyConsistency, verifyInclusion } from './merkle.js';
import { TimestampError, verifyTimestampToken } from './rfc3161.js';

/** A public JWK as published in the tenant JWKS (only EC P-256 keys are used). */
export interface Jwk {
  readonly kty?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly kid?: string;
}

/** One block file as found (the name is what the verifier reports when it fails). */
export interface BlockSource {
  readonly name: string;
  /** The version verified: the latest one. */
  readonly text: string;
  /**
   * Every stored version of the object, oldest first (S3 versioning), when the source keeps
   * them. Later versions may only add the RFC 3161 timestamp that anchoring writes; any other
   * difference is a rewrite (F7).
   */
  readonly versions?: readonly { readonly id: string; readonly text: string }[];
  /** The object's latest version is a delete marker (S3). */
  readonly deleted?: boolean;
}

export interface VerifyOptions {
  /** The tenant's audit key set (every key ever used to sign blocks). Required unless `unsigned`. */
  readonly jwks?: readonly Jwk[];
  /** Check hashes, roots and proofs only, without signatures (must be asked for explicitly, F28). */
  readonly unsigned?: boolean;
  /** A head hash known from elsewhere (a previous run, a published checkpoint): it must be in the chain (F28). */
  readonly expectHead?: string;
  /** The chain must reach at least this height (detects tail truncation, F28). */
  readonly minHeight?: number;
  /** Latest accepted RFC 3161 genTime after a block's sealed_at, in seconds (anchoring is retried). @default 86400 */
  readonly maxAnchorLagS?: number;
  /** Clock skew tolerated between the sealer and the TSA, in seconds. @default 300 */
  readonly clockSkewS?: number;
  /** Verify this event's inclusion proof against its block's signed root. */
  readonly eventId?: string;
  /** PEM certificates the TSA signer must chain to (optional). */
  readonly tsaTrustedCertsPem?: readonly string[];
  /** Fail when a block has no RFC 3161 token; needs `tsaTrustedCertsPem` (a self-signed TSA proves nothing). @default false */
  readonly requireAnchored?: boolean;
}

export type VerifyOutcome =
  | {
      readonly ok: true;
      readonly blocks: number;
      readonly events: number;
      readonly tree_size: number;
      readonly root: string;
      readonly head_hash: string;
      readonly anchored: number;
      readonly unanchored: number;
      readonly signatures_checked: boolean;
      readonly height: number;
      readonly event?: { readonly event_id: string; readonly block_id: string; readonly leaf_index: number };
    }
  | { readonly ok: false; readonly block: string; readonly reason: string };

class BlockFault extends Error {}

const fail = (reason: string): never => {
  throw new BlockFault(reason);
};

function parseBlock(text: string): AuditBlock {
  let b: AuditBlock;
  try {
    b = JSON.parse(text) as AuditBlock;
  } catch {
    return fail('not valid JSON');
  }
  if (!b || typeof b !== 'object' || !b.head || b.head.format !== BLOCK_FORMAT || !Array.isArray(b.events)) {
    return fail(`not an ${BLOCK_FORMAT} block`);
  }
  return b;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * All stored versions of one block object must be the same block: identical head, hash,
 * signature and events; a later version may only add the timestamp an earlier one lacked.
 */
function checkVersions(versions: readonly { id: string; text: string }[]): undefined {
  if (versions.length < 2) return;
  const first = parseBlock(versions[0]!.text);
  let stamp = first.timestamp ?? null;
  for (const v of versions.slice(1)) {
    let b: AuditBlock;
    try {
      b = parseBlock(v.text);
    } catch {
      return fail(`object version ${v.id} is not a block: the object was rewritten`);
    }
    const same =
      sameJson(b.head, first.head) &&
      b.block_hash === first.block_hash &&
      b.signature === first.signature &&
      sameJson(b.events, first.events);
    if (!same)
      fail(`object version ${v.id} differs from the first stored version ${versions[0]!.id}: the block was rewritten`);
    if (stamp && !sameJson(b.timestamp, stamp))
      fail(`object version ${v.id} replaces the RFC 3161 timestamp of an earlier version: the block was rewritten`);
    stamp = b.timestamp ?? stamp;
  }
}

/** Verifies the ES256 JWS-form signature (R‖S, base64url) over the canonical head. */
export function verifyHeadSignature(block: AuditBlock, jwks: readonly Jwk[]): void {
  const key = jwks.find((k) => k.kid === block.head.kid);
  if (!key) fail(`signing key ${block.head.kid} is not in the audit key set`);
  if (key!.kty !== 'EC' || key!.crv !== 'P-256') fail(`key ${block.head.kid} is not a P-256 EC key`);
  const pub = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: String(key!.x), y: String(key!.y) },
    format: 'jwk',
  });
  const sig = Buffer.from(block.signature ?? '', 'base64url');
  if (sig.length !== 64) fail('signature is not a 64-byte ES256 R‖S value');
  const ok = cryptoVerify('sha256', headBytes(block.head), { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) fail('block signature does not verify against the audit key set');
}

/**
 * Verifies blocks in the order given (callers order by file/key name, which is the zero-padded
 * height). Returns the first bad block and why, or a summary.
 */
export async function verifyChain(sources: readonly BlockSource[], opts: VerifyOptions = {}): Promise<VerifyOutcome> {
  if (sources.length === 0) return { ok: false, block: '(none)', reason: 'no block files found' };
  if (!opts.jwks && !opts.unsigned)
    return {
      ok: false,
      block: '(none)',
      reason: 'no audit key set: pass the key set, or ask for the unsigned mode explicitly',
    };
  if (opts.requireAnchored && !opts.tsaTrustedCertsPem?.length)
    return {
      ok: false,
      block: '(none)',
      reason: 'requiring anchoring needs the TSA CA certificates (a self-signed TSA would pass)',
    };
  const skewMs = (opts.clockSkewS ?? 300) * 1000;
  const maxLagMs = (opts.maxAnchorLagS ?? 86_400) * 1000;
  let lastSealed = -Infinity;
  const heads = new Set<string>();
  let state = GENESIS_STATE;
  let prevHash = GENESIS_PREV_HASH;
  let tenant: string | null = null;
  let anchored = 0;
  let unanchored = 0;
  let events = 0;
  let found: { event_id: string; block_id: string; leaf_index: number } | undefined;
  const seen = new Set<string>();

  for (const src of sources) {
    let label = src.name;
    try {
      if (src.deleted) fail('the block object was deleted (its latest version is a delete marker)');
      const b = parseBlock(src.text);
      const h = b.head;
      label = `${h.block_id ?? '?'} (${src.name})`;
      if (src.versions) checkVersions(src.versions);
      const sealedMs = Date.parse(h.sealed_at);
      if (!Number.isFinite(sealedMs)) fail('sealed_at is not a timestamp');
      if (sealedMs < lastSealed) fail(`sealed_at ${h.sealed_at} is earlier than the previous block's`);
      lastSealed = sealedMs;
      tenant ??= h.tenant_id;
      if (h.tenant_id !== tenant) fail(`tenant ${h.tenant_id} differs from the chain's ${tenant}`);
      if (h.height !== state.height + 1) {
        fail(
          `height ${h.height} where ${state.height + 1} was expected (a block is missing, duplicated or out of order)`,
        );
      }
      const computedHash = headHash(h);
      if (b.block_hash !== computedHash) fail('block_hash does not match the canonical head');
      if (h.prev_block_hash !== prevHash) fail('prev_block_hash does not link to the previous block');
      if (opts.jwks) verifyHeadSignature(b, opts.jwks);

      // Merkle: recompute leaves from the events, the root from the previous frontier.
      if (h.event_count !== b.events.length || h.event_count < 1)
        fail(`event_count ${h.event_count} but ${b.events.length} events`);
      if (h.first_index !== state.tree_size || h.prev_tree_size !== state.tree_size)
        fail('first_index / prev_tree_size do not continue the log');
      if (h.prev_root !== state.root) fail('prev_root differs from the previous block root');
      if (h.prev_frontier.length !== state.frontier.length || h.prev_frontier.some((f, i) => f !== state.frontier[i])) {
        fail('prev_frontier differs from the log built from earlier blocks');
      }
      for (const e of b.events) {
        if (e.tenant_id !== tenant) fail(`event ${e.event_id} belongs to another tenant`);
        if (seen.has(e.event_id)) fail(`event ${e.event_id} appears twice in the chain`);
        seen.add(e.event_id);
      }
      const leaves = b.events.map((e) => hashLeaf(leafData(e)));
      const view = new LogView(
        state.tree_size,
        state.frontier.map((f) => Buffer.from(f, 'base64')),
        leaves,
      );
      const root = Buffer.from(view.root()).toString('base64');
      if (h.tree_size !== view.size) fail(`tree_size ${h.tree_size} but the log has ${view.size} leaves`);
      if (root !== h.root) fail('Merkle root does not match the events (an event was altered, added or removed)');
      if (state.tree_size > 0) {
        try {
          verifyConsistency(
            state.tree_size,
            h.tree_size,
            h.consistency_proof.map((p) => Buffer.from(p, 'base64')),
            Buffer.from(state.root, 'base64'),
            Buffer.from(h.root, 'base64'),
          );
        } catch (e) {
          if (e instanceof ProofError || e instanceof RootMismatchError)
            fail(`consistency proof from the previous head fails: ${e.message}`);
          throw e;
        }
      }

      if (b.timestamp) {
        try {
          const ts = await verifyTimestampToken(Buffer.from(b.timestamp.token, 'base64'), headBytes(h), {
            ...(opts.tsaTrustedCertsPem ? { trustedCertsPem: opts.tsaTrustedCertsPem } : {}),
          });
          const gen = Date.parse(ts.genTime);
          if (gen < sealedMs - skewMs)
            throw new BlockFault(`RFC 3161 genTime ${ts.genTime} is before the block was sealed (${h.sealed_at})`);
          if (gen > sealedMs + maxLagMs)
            throw new BlockFault(
              `RFC 3161 genTime ${ts.genTime} is more than ${maxLagMs / 1000} s after sealed_at ${h.sealed_at} (re-stamped later?)`,
            );
        } catch (e) {
          if (e instanceof BlockFault) throw e;
          if (e instanceof TimestampError) fail(`RFC 3161 timestamp: ${e.message}`);
          fail(`RFC 3161 timestamp unreadable: ${(e as Error).message}`);
        }
        anchored++;
      } else {
        if (opts.requireAnchored) fail('block has no RFC 3161 timestamp');
        unanchored++;
      }

      if (opts.eventId) {
        const i = b.events.findIndex((e) => e.event_id === opts.eventId);
        if (i >= 0) {
          const p = eventProof(b, i);
          try {
            verifyInclusion(
              p.leaf_index,
              p.tree_size,
              Buffer.from(p.leaf_hash, 'base64'),
              p.proof.map((x) => Buffer.from(x, 'base64')),
              Buffer.from(h.root, 'base64'),
            );
          } catch (e) {
            fail(`inclusion proof for ${opts.eventId} fails: ${(e as Error).message}`);
          }
          found = { event_id: opts.eventId, block_id: h.block_id, leaf_index: p.leaf_index };
        }
      }

      events += b.events.length;
      heads.add(computedHash);
      prevHash = computedHash;
      state = {
        height: h.height,
        head_hash: computedHash,
        tree_size: view.size,
        root,
        frontier: view.frontier().map((f) => Buffer.from(f).toString('base64')),
      };
    } catch (e) {
      if (e instanceof BlockFault) return { ok: false, block: label, reason: e.message };
      return { ok: false, block: label, reason: `unreadable block: ${(e as Error).message}` };
    }
  }
  if (opts.eventId && !found)
    return { ok: false, block: '(none)', reason: `event ${opts.eventId} is not in any block` };
  if (opts.minHeight !== undefined && state.height < opts.minHeight) {
    return {
      ok: false,
      block: '(chain)',
      reason: `chain height ${state.height} is below the expected minimum ${opts.minHeight}: blocks were removed from the tail`,
    };
  }
  if (opts.expectHead !== undefined && !heads.has(opts.expectHead.toLowerCase())) {
    return {
      ok: false,
      block: '(chain)',
      reason: `expected head ${opts.expectHead} is not in the chain (head is ${state.head_hash}): truncated or rewritten`,
    };
  }
  return {
    ok: true,
    blocks: sources.length,
    events,
    tree_size: state.tree_size,
    root: state.root,
    head_hash: state.head_hash,
    anchored,
    unanchored,
    signatures_checked: Boolean(opts.jwks),
    height: state.height,
    ...(found ? { event: found } : {}),
  };
}

/** Verifies a standalone receipt (an /events/{id}/proof answer) against a verified block. */
export function verifyReceipt(
  block: AuditBlock,
  receipt: {
    event_id: string;
    leaf_hash: string;
    leaf_index: number;
    tree_size: number;
    root: string;
    proof: readonly string[];
  },
): void {
  const i = block.events.findIndex((e) => e.event_id === receipt.event_id);
  if (i < 0) throw new ProofError(`event ${receipt.event_id} is not in ${block.head.block_id}`);
  const leaf = hashLeaf(leafData(block.events[i]!));
  if (Buffer.from(leaf).toString('base64') !== receipt.leaf_hash)
    throw new ProofError('receipt leaf hash is not this event');
  if (receipt.root !== block.head.root || receipt.tree_size !== block.head.tree_size)
    throw new ProofError('receipt root is not the block root');
  verifyInclusion(
    receipt.leaf_index,
    receipt.tree_size,
    leaf,
    receipt.proof.map((p) => Buffer.from(p, 'base64')),
    Buffer.from(receipt.root, 'base64'),
  );
}

/** One status line for the CLI. */
export function statusLine(o: VerifyOutcome): string {
  if (!o.ok) return `FAIL ${o.block}: ${o.reason}`;
  const parts = [
    `OK chain of ${o.blocks} block(s), ${o.events} event(s), tree_size ${o.tree_size}, root ${o.root}, height ${o.height}, head ${o.head_hash}`,
    o.signatures_checked ? 'signatures verified' : 'signatures NOT checked (unsigned mode)',
    `${o.anchored} anchored / ${o.unanchored} un-anchored (RFC 3161)`,
  ];
  if (o.event) parts.push(`event ${o.event.event_id} included in ${o.event.block_id} at leaf ${o.event.leaf_index}`);
  return parts.join('; ');
}
