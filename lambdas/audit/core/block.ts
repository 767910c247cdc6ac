/**
 * Audit blocks: pure sealing of a batch of events onto a tenant's running log.
 *
 * The log is one RFC 6962 tree per tenant across all blocks. A block carries its events (the
 * leaves `first_index … tree_size-1`), the frontier of the previous tree (so proofs for its
 * events need nothing but the block), the consistency proof from the previous head, and a
 * head that is signed (ES256, JWS R‖S) and timestamped (RFC 3161 over `block_hash`).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../shared/ids.js';
import { leafData, leafString, type AuditEvent } from './events.js';
import { LogView, hashLeaf, sha256Hasher, type Hasher } from './merkle.js';

export const BLOCK_FORMAT = 'arx.audit.block.v1';
export const GENESIS_PREV_HASH = '0'.repeat(64);

export interface BlockHead {
  readonly format: typeof BLOCK_FORMAT;
  readonly tenant_id: string;
  readonly block_id: string;
  readonly height: number;
  /** Hex SHA-256 of the previous block's canonical head; 64 zeros for height 1. */
  readonly prev_block_hash: string;
  readonly first_index: number;
  readonly event_count: number;
  /** Running log after this block: size and RFC 6962 root (base64). */
  readonly tree_size: number;
  readonly root: string;
  readonly prev_tree_size: number;
  readonly prev_root: string;
  /** RFC 9162 consistency proof prev_tree_size → tree_size (empty when prev_tree_size is 0). */
  readonly consistency_proof: readonly string[];
  /** Peaks of the previous tree (base64), left to right. */
  readonly prev_frontier: readonly string[];
  readonly time_window: { readonly from: string; readonly to: string };
  readonly sealed_at: string;
  readonly alg: 'ES256';
  readonly kid: string;
}

export interface BlockTimestamp {
  /** DER TimeStampToken (CMS ContentInfo), base64. */
  readonly token: string;
  readonly tsa_url: string;
  readonly anchored_at: string;
}

/** A block as stored in the audit bucket and returned by GET /v1/audit/blocks/{id}. */
export interface AuditBlock {
  readonly head: BlockHead;
  /** Hex SHA-256 of canonicalJson(head): the RFC 3161 message imprint and the next prev_block_hash. */
  readonly block_hash: string;
  /** JWS-style ES256 signature over canonicalJson(head): base64url R‖S (64 bytes). */
  readonly signature: string;
  readonly events: readonly AuditEvent[];
  readonly timestamp: BlockTimestamp | null;
}

/** Per-tenant chain state kept between seals. */
export interface ChainState {
  readonly height: number;
  readonly head_hash: string;
  readonly tree_size: number;
  readonly root: string;
  readonly frontier: readonly string[];
}

export const GENESIS_STATE: ChainState = {
  height: 0,
  head_hash: GENESIS_PREV_HASH,
  tree_size: 0,
  root: Buffer.from(sha256Hasher.digest()).toString('base64'),
  frontier: [],
};

export const blockId = (height: number): string => `blk-${String(height).padStart(12, '0')}`;
export const heightOf = (id: string): number | null => {
  const m = /^(?:blk-)?(\d{1,15})$/.exec(id);
  return m ? Number(m[1]) : null;
};
export const blockKey = (tenant: string, height: number): string =>
  `tenants/${tenant}/blocks/${String(height).padStart(12, '0')}.json`;

export const headBytes = (head: BlockHead): Buffer => Buffer.from(canonicalJson(head), 'utf8');
export const headHash = (head: BlockHead): string => createHash('sha256').update(headBytes(head)).digest('hex');

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

export interface SealInput {
  readonly tenantId: string;
  readonly prev: ChainState;
  /** Events in leaf order (callers sort by event_id). Must be non-empty. */
  readonly events: readonly AuditEvent[];
  readonly sealedAt: Date;
  readonly kid: string;
  readonly hasher?: Hasher;
  /**
   * Canonical leaf strings of `events` (leafString), when the store kept them from write time;
   * saves re-serialising. Precondition: leaves[i] === leafString(events[i]) — the verifier
   * recomputes them from the events, so a mismatch fails verification, never passes silently.
   */
  readonly leaves?: readonly string[];
}

export interface SealedBlock {
  readonly head: BlockHead;
  readonly block_hash: string;
  readonly next: ChainState;
  readonly leafHashes: readonly Uint8Array[];
}

/**
 * Seals `events` onto the running log: leaf hashes, new root, consistency proof and frontier.
 * Pure and deterministic; the caller signs `headBytes(head)` and stores the block.
 *
 * @example
 * const s = sealBlock({ tenantId: 't1', prev: GENESIS_STATE, events, sealedAt: clock.now(), kid });
 * const block = { head: s.head, block_hash: s.block_hash, signature: await signer.sign(headBytes(s.head)), events, timestamp: null };
 */
export function sealBlock(input: SealInput): SealedBlock {
  if (input.events.length === 0) throw new Error('cannot seal an empty block');
  const h = input.hasher ?? sha256Hasher;
  if (input.leaves && input.leaves.length !== input.events.length)
    throw new Error('leaves and events differ in length');
  const leafHashes = input.leaves
    ? input.leaves.map((l) => leafHashOfString(l, h))
    : input.events.map((e) => leafHashOfString(leafString(e), h));
  const prevFrontier = input.prev.frontier.map((f) => Buffer.from(f, 'base64'));
  const view = new LogView(input.prev.tree_size, prevFrontier, leafHashes, h);
  const root = b64(view.root());
  const height = input.prev.height + 1;
  let from = input.events[0]!.recorded_at;
  let to = from;
  for (const e of input.events) {
    if (e.recorded_at < from) from = e.recorded_at;
    if (e.recorded_at > to) to = e.recorded_at;
  }
  const head: BlockHead = {
    format: BLOCK_FORMAT,
    tenant_id: input.tenantId,
    block_id: blockId(height),
    height,
    prev_block_hash: input.prev.head_hash,
    first_index: input.prev.tree_size,
    event_count: input.events.length,
    tree_size: view.size,
    root,
    prev_tree_size: input.prev.tree_size,
    prev_root: input.prev.root,
    consistency_proof: input.prev.tree_size === 0 ? [] : view.consistencyProof(input.prev.tree_size).map(b64),
    prev_frontier: input.prev.frontier,
    time_window: { from, to },
    sealed_at: input.sealedAt.toISOString(),
    alg: 'ES256',
    kid: input.kid,
  };
  const block_hash = headHash(head);
  return {
    head,
    block_hash,
    leafHashes,
    next: { height, head_hash: block_hash, tree_size: view.size, root, frontier: view.frontier().map(b64) },
  };
}

const LEAF0 = new Uint8Array([0]);
/** H(0x00 || utf8(leaf)) without an intermediate Buffer for SHA-256. */
function leafHashOfString(leaf: string, h: Hasher): Uint8Array {
  if (h === sha256Hasher) return createHash('sha256').update(LEAF0).update(leaf, 'utf8').digest();
  return hashLeaf(Buffer.from(leaf, 'utf8'), h);
}

/** Inclusion proof (RFC 9162) of the event at position `i` of `block` against the block's signed root. */
export function eventProof(block: AuditBlock, i: number, hasher: Hasher = sha256Hasher) {
  const leaves = block.events.map((e) => hashLeaf(leafData(e), hasher));
  const view = new LogView(
    block.head.first_index,
    block.head.prev_frontier.map((f) => Buffer.from(f, 'base64')),
    leaves,
    hasher,
  );
  const leafIndex = block.head.first_index + i;
  return {
    event_id: block.events[i]!.event_id,
    leaf_hash: b64(leaves[i]!),
    block_id: block.head.block_id,
    leaf_index: leafIndex,
    tree_size: block.head.tree_size,
    root: block.head.root,
    proof: view.inclusionProof(leafIndex).map(b64),
  };
}
export type EventProof = ReturnType<typeof eventProof>;
