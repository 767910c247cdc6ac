import { describe, expect, it } from 'vitest';
import { blockKey, type AuditBlock } from '../../../lambdas/audit/core/block.js';
import type { AuditEvent } from '../../../lambdas/audit/core/events.js';
import type {
  BlockStore,
  BlockSummary,
  ChainRecord,
  ChainStore,
  PendingEvent,
} from '../../../lambdas/audit/core/ports.js';
import { sealTenant, type SealerDeps } from '../../../lambdas/audit/core/sealer.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { ManualClock } from '../../support/clock.js';
import { localSigner, makeEvent, type LocalSigner } from './fixtures.js';

const T = 'acme';
const crash = () =>
  Object.assign(new Error('ServiceUnavailable: the sealer died here'), { name: 'ServiceUnavailable' });

/** The events table's pending index and each event's block position. */
class MemoryEvents {
  readonly events = new Map<string, { event: AuditEvent; height: number | null; leaf: number | null }>();
  /** Events marked before the next `markSealed` fails (null: never fails). */
  failMarkingAfter: number | null = null;
  add(e: AuditEvent) {
    this.events.set(e.event_id, { event: e, height: null, leaf: null });
  }
  async pendingEvents(_t: string, limit: number): Promise<PendingEvent[]> {
    return [...this.events.values()]
      .filter((x) => x.height === null)
      .slice(0, limit)
      .map((x) => ({ event: x.event, leaf: null }));
  }
  async markSealed(_t: string, height: number, evs: readonly { event_id: string; leaf_index: number }[]) {
    for (const e of evs) {
      if (this.failMarkingAfter !== null && this.failMarkingAfter-- <= 0) {
        this.failMarkingAfter = null;
        throw crash();
      }
      const x = this.events.get(e.event_id)!;
      x.height = height;
      x.leaf = e.leaf_index;
    }
  }
  async tenants() {
    return [T];
  }
}

/** The chain head with the DynamoDB adapter's conditional commit; `failCommits` makes commits throw. */
class MemoryChain implements ChainStore {
  head: ChainRecord | null = null;
  readonly summaries = new Map<number, BlockSummary>();
  failCommits = 0;
  async getChain() {
    return this.head ? structuredClone(this.head) : null;
  }
  async commitBlock(prevHeight: number, next: ChainRecord, summary: BlockSummary) {
    if (this.failCommits > 0) {
      this.failCommits--;
      throw crash();
    }
    if ((this.head?.height ?? 0) !== prevHeight || this.summaries.has(summary.height)) return false;
    this.head = structuredClone(next);
    this.summaries.set(summary.height, structuredClone(summary));
    return true;
  }
  async finishMarking(_t: string, height: number) {
    if (this.head?.marking_height === height) this.head = { ...this.head, marking_height: null };
  }
  async recordAnchor() {}
  async getBlockSummary(_t: string, h: number) {
    return this.summaries.get(h) ?? null;
  }
  async listBlocks() {
    return [...this.summaries.values()];
  }
  async tryLease() {
    return true;
  }
  async releaseLease() {}
}

/** A versioned Object Lock bucket: every write is a new version, none is ever removed. */
class VersionedBlocks implements BlockStore {
  readonly versions = new Map<string, string[]>();
  async put(b: AuditBlock) {
    const key = blockKey(b.head.tenant_id, b.head.height);
    this.versions.set(key, [...(this.versions.get(key) ?? []), JSON.stringify(b)]);
    return { key, version_id: String(this.versions.get(key)!.length) };
  }
  async putNew(b: AuditBlock) {
    return this.versions.has(blockKey(b.head.tenant_id, b.head.height)) ? null : this.put(b);
  }
  async get(t: string, h: number) {
    const v = this.versions.get(blockKey(t, h));
    return v ? (JSON.parse(v[v.length - 1]!) as AuditBlock) : null;
  }
  /** What arx-verify reads: each block with every stored version. */
  sources() {
    return [...this.versions.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, v]) => ({ name, text: v[v.length - 1]!, versions: v.map((text, i) => ({ id: String(i), text })) }));
  }
}

function setup(signer: LocalSigner) {
  const clock = new ManualClock(Date.parse('2026-01-01T02:00:00Z'));
  const events = new MemoryEvents();
  const chain = new MemoryChain();
  const blocks = new VersionedBlocks();
  const deps: SealerDeps = {
    events,
    chain,
    blocks,
    signer: {
      activeKid: async () => signer.kid,
      sign: async (_t, bytes) => ({ kid: signer.kid, signature: await signer.sign(bytes) }),
    },
    timestamper: null,
    clock,
    owner: 'sealer-1',
  };
  // Seal a tick, 5 s later than the last; a crash is the tick's error, as sealAll records it.
  const tick = async () => {
    clock.advance(5000);
    return sealTenant(deps, T).catch((e: Error) => ({ error: e.name }));
  };
  const add = (n: number) => {
    for (let i = 0; i < n; i++) events.add(makeEvent(T, i));
  };
  return { events, chain, blocks, tick, add };
}

/** Every event sealed exactly once: one leaf in the chain, positions as the events store has them. */
async function expectSealedOnce(s: ReturnType<typeof setup>, signer: LocalSigner) {
  const out = await verifyChain(s.blocks.sources(), { jwks: [signer.jwk] });
  expect(out).toMatchObject({ ok: true, tree_size: s.events.events.size, events: s.events.events.size });
  const leaves = s.blocks
    .sources()
    .flatMap((src) => (JSON.parse(src.text) as AuditBlock).events.map((e) => e.event_id));
  expect(new Set(leaves).size).toBe(leaves.length);
  expect(new Set(leaves)).toEqual(new Set(s.events.events.keys()));
  expect([...s.events.events.values()].every((x) => x.height !== null)).toBe(true);
  expect(s.chain.head?.tree_size).toBe(s.events.events.size);
}

describe('sealer crash mid-block: no event sealed twice or lost, the chain verifies (every object version)', () => {
  it('dies after storing the block, before the head commit: the next run commits that stored block, not a second one', async () => {
    const signer = await localSigner();
    const s = setup(signer);
    s.add(3);
    s.chain.failCommits = 1;
    expect(await s.tick()).toEqual({ error: 'ServiceUnavailable' });
    expect(s.chain.head).toBeNull();
    expect(s.blocks.versions.get(blockKey(T, 1))).toHaveLength(1);
    // more events arrive before the next run: they wait for block 2
    s.add(2);
    const r1 = await s.tick();
    expect(r1).toMatchObject({ sealed: { height: 1, events: 3 } });
    // the height holds one block, ever (a rewrite would fail arx-verify's version check)
    expect(s.blocks.versions.get(blockKey(T, 1))).toHaveLength(1);
    expect(await s.tick()).toMatchObject({ sealed: { height: 2, events: 2 } });
    await expectSealedOnce(s, signer);
  });

  it('dies twice before the commit, with the signing time moved on: still one block at the height', async () => {
    const signer = await localSigner();
    const s = setup(signer);
    s.add(4);
    s.chain.failCommits = 2;
    expect(await s.tick()).toEqual({ error: 'ServiceUnavailable' });
    s.add(1);
    expect(await s.tick()).toEqual({ error: 'ServiceUnavailable' });
    expect(await s.tick()).toMatchObject({ sealed: { height: 1, events: 4 } });
    expect(await s.tick()).toMatchObject({ sealed: { height: 2, events: 1 } });
    expect(s.blocks.versions.get(blockKey(T, 1))).toHaveLength(1);
    await expectSealedOnce(s, signer);
  });

  it('dies partway through marking the committed block: the next run finishes marking it, then seals the rest', async () => {
    const signer = await localSigner();
    const s = setup(signer);
    s.add(5);
    s.events.failMarkingAfter = 2;
    expect(await s.tick()).toEqual({ error: 'ServiceUnavailable' });
    expect(s.chain.head).toMatchObject({ height: 1, marking_height: 1, tree_size: 5 });
    expect([...s.events.events.values()].filter((x) => x.height === 1)).toHaveLength(2);
    s.add(2);
    // recovery marks block 1's remaining three, then seals the two new ones as block 2
    expect(await s.tick()).toMatchObject({ sealed: { height: 2, events: 2 } });
    expect(s.chain.head?.marking_height).toBeNull();
    await expectSealedOnce(s, signer);
  });

  it('a stored block that does not extend the head is never committed (nor overwritten): the run fails', async () => {
    const signer = await localSigner();
    const s = setup(signer);
    s.add(2);
    s.chain.failCommits = 1;
    await s.tick();
    // someone else's block 1 under the key (another chain): refused, left as found
    const key = blockKey(T, 1);
    const foreign = JSON.parse(s.blocks.versions.get(key)![0]!) as AuditBlock;
    s.blocks.versions.set(key, [JSON.stringify({ ...foreign, block_hash: 'AAAA' })]);
    expect(await s.tick()).toEqual({ error: 'Error' });
    expect(s.chain.head).toBeNull();
    expect(s.blocks.versions.get(key)).toHaveLength(1);
  });
});
