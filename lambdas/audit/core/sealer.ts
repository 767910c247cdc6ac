/**
 * The sealer (C4.2): every few seconds, per tenant, turn pending events into a signed block on
 * the running log, write it to the Object Lock bucket, anchor it with RFC 3161 when the TSA
 * answers, and copy it to the customer's destinations (queued and replayed on failure).
 */
import type { Clock } from '../../shared/clock.js';
import type { EventPublisher, OutboxEntry } from '../../shared/events.js';
import { GENESIS_STATE, blockKey, headBytes, sealBlock, type AuditBlock } from './block.js';
import type {
  BlockSigner,
  BlockStore,
  ChainRecord,
  ChainStore,
  Destination,
  DestinationStore,
  DestinationWriter,
  EventStore,
  Timestamper,
} from './ports.js';

export interface SealerDeps {
  readonly events: Pick<EventStore, 'pendingEvents' | 'markSealed' | 'tenants'>;
  readonly chain: ChainStore;
  readonly blocks: BlockStore;
  readonly signer: BlockSigner;
  /** null when no TSA is configured: blocks stay un-anchored and chain status shows it. */
  readonly timestamper: Timestamper | null;
  readonly clock: Clock;
  readonly destinations?: { readonly store: DestinationStore; readonly writer: DestinationWriter };
  readonly publisher?: EventPublisher;
  /**
   * The control table's outbox: `audit.block.sealed` commits with the block and is published after
   * (at least once). Without it the event is published directly, best effort.
   */
  readonly outbox?: {
    readonly table: string;
    readonly sink: { flush(entries: readonly OutboxEntry[]): Promise<number> };
  };
  /** Most events per block. @default 10_000 */
  readonly maxEvents?: number;
  /** Lease owner id of this run. */
  readonly owner: string;
}

export interface SealResult {
  readonly tenant_id: string;
  readonly sealed: { height: number; events: number; anchored: boolean } | null;
  readonly anchoredRetries: number;
  readonly replayed: number;
  /** Name of the error that stopped this tenant's seal (retried next tick). */
  readonly error?: string;
}

const emptyRecord = (tenantId: string): ChainRecord => ({
  ...GENESIS_STATE,
  tenant_id: tenantId,
  last_sealed_at: null,
  last_anchored_at: null,
  unanchored: [],
  oldest_unanchored_at: null,
  marking_height: null,
});

/** Seals one tenant once (a no-op without pending events). Safe to run concurrently: a lease and a conditional head write keep one writer. */
export async function sealTenant(deps: SealerDeps, tenantId: string): Promise<SealResult> {
  const now = deps.clock.now();
  const leased = await deps.chain.tryLease(
    tenantId,
    deps.owner,
    new Date(now.getTime() + 30_000).toISOString(),
    now.toISOString(),
  );
  if (!leased) return { tenant_id: tenantId, sealed: null, anchoredRetries: 0, replayed: 0 };
  try {
    let chain = (await deps.chain.getChain(tenantId)) ?? emptyRecord(tenantId);
    if (chain.marking_height !== null) {
      // A previous run committed the block but did not finish marking its events.
      const b = await deps.blocks.get(tenantId, chain.marking_height);
      if (b)
        await deps.events.markSealed(
          tenantId,
          chain.marking_height,
          b.events.map((e, i) => ({ event_id: e.event_id, leaf_index: b.head.first_index + i })),
        );
      await deps.chain.finishMarking(tenantId, chain.marking_height);
      chain = { ...chain, marking_height: null };
    }
    const anchoredRetries = await retryAnchoring(deps, chain);
    const replayed = await replayDestinations(deps, tenantId);

    const rows = (await deps.events.pendingEvents(tenantId, deps.maxEvents ?? 10_000)).sort((a, b) =>
      a.event.event_id < b.event.event_id ? -1 : 1,
    );
    const pending = rows.map((r) => r.event);
    const leaves = rows.every((r) => r.leaf !== null) ? rows.map((r) => r.leaf!) : undefined;
    if (pending.length === 0) return { tenant_id: tenantId, sealed: null, anchoredRetries, replayed };

    const sealedAt = deps.clock.now();
    const kid = await deps.signer.activeKid(tenantId);
    // control: eu_ai_act:Art.12, iso_42001_2023:A.6.2.8, owasp_agentic_top10_2025:T8
    const s = sealBlock({ tenantId, prev: chain, events: pending, sealedAt, kid, ...(leaves ? { leaves } : {}) });
    const sig = await deps.signer.sign(tenantId, headBytes(s.head));
    if (sig.kid !== kid) throw new Error('tenant signing key rotated during sealing; retry next tick');
    let timestamp: AuditBlock['timestamp'] = null;
    if (deps.timestamper) {
      try {
        timestamp = {
          token: await deps.timestamper.stamp(s.block_hash),
          tsa_url: deps.timestamper.url,
          anchored_at: deps.clock.now().toISOString(),
        };
      } catch {
        timestamp = null; // TSA outage: sealed but un-anchored, retried on later ticks
      }
    }
    let block: AuditBlock = {
      head: s.head,
      block_hash: s.block_hash,
      signature: sig.signature,
      events: pending,
      timestamp,
    };
    let sealed: { head: AuditBlock['head']; block_hash: string; next: typeof s.next } = s;
    let put = await deps.blocks.putNew(block);
    if (!put) {
      // This height's object exists: a run stored its block and died before committing the head
      // (or another run committed it since). Object Lock keeps that version for good, and a second,
      // different block under the key would read as a rewrite (F7: arx-verify checks every version),
      // so the stored block is the one at this height: committed as stored when it extends this head.
      const stored = await deps.blocks.get(tenantId, s.head.height);
      const again = stored ? resealed(chain, stored) : null;
      if (!stored || !again)
        throw new Error(`block ${s.head.height} of ${tenantId} is stored but does not extend the head`);
      block = stored;
      sealed = again;
      put = { key: blockKey(tenantId, s.head.height), version_id: null };
    }
    const { head } = sealed;
    const anchoredAt = block.timestamp?.anchored_at ?? null;
    const next: ChainRecord = {
      ...sealed.next,
      tenant_id: tenantId,
      last_sealed_at: head.sealed_at,
      last_anchored_at: anchoredAt ?? chain.last_anchored_at,
      unanchored: anchoredAt ? chain.unanchored : [...chain.unanchored, head.height],
      oldest_unanchored_at: anchoredAt ? chain.oldest_unanchored_at : (chain.oldest_unanchored_at ?? head.sealed_at),
      marking_height: head.height,
    };
    const sealedEvent: OutboxEntry = {
      detailType: 'audit.block.sealed',
      detail: {
        tenant_id: tenantId,
        correlation_id: head.block_id,
        trace_id: block.events[0]!.trace_id,
        event_id: `sealed:${tenantId}:${head.height}`,
        block_id: head.block_id,
        height: head.height,
        block_hash: sealed.block_hash,
        event_count: block.events.length,
        anchored: anchoredAt !== null,
      },
    };
    const ok = await deps.chain.commitBlock(
      chain.height,
      next,
      {
        tenant_id: tenantId,
        block_id: head.block_id,
        height: head.height,
        block_hash: sealed.block_hash,
        head,
        key: put.key,
        anchored: anchoredAt !== null,
        anchored_at: anchoredAt,
      },
      deps.outbox ? { table: deps.outbox.table, entry: sealedEvent } : undefined,
    );
    if (!ok) throw new Error(`chain head of ${tenantId} moved during sealing`);
    await deps.events.markSealed(
      tenantId,
      head.height,
      block.events.map((e, i) => ({ event_id: e.event_id, leaf_index: head.first_index + i })),
    );
    await deps.chain.finishMarking(tenantId, head.height);
    await copyToDestinations(deps, block);
    // Committed with the block: published now, or by the relay when the bus is down.
    if (deps.outbox) await deps.outbox.sink.flush([sealedEvent]);
    // Without an outbox the block is still durable; the notification is best effort.
    else await deps.publisher?.publish(sealedEvent.detailType, sealedEvent.detail).catch(() => undefined);
    return {
      tenant_id: tenantId,
      sealed: { height: head.height, events: block.events.length, anchored: anchoredAt !== null },
      anchoredRetries,
      replayed,
    };
  } finally {
    await deps.chain.releaseLease(tenantId, deps.owner).catch(() => undefined);
  }
}

/**
 * The chain state after `stored` when it is the block that extends `chain` (sealed again from its
 * own events, time and key, it hashes the same); null otherwise. Its events are in no committed
 * block: it was built from this head's pending events once the previous block was fully marked
 * (recovery runs first), and the head never moved past it.
 */
function resealed(chain: ChainRecord, stored: AuditBlock) {
  if (stored.head.tenant_id !== chain.tenant_id || stored.events.length === 0) return null;
  const again = sealBlock({
    tenantId: chain.tenant_id,
    prev: chain,
    events: stored.events,
    sealedAt: new Date(stored.head.sealed_at),
    kid: stored.head.kid,
  });
  return again.block_hash === stored.block_hash ? again : null;
}

/** Retries RFC 3161 for un-anchored blocks: the stamped block is written as a new object version. */
async function retryAnchoring(deps: SealerDeps, chain: ChainRecord): Promise<number> {
  if (!deps.timestamper || chain.unanchored.length === 0) return 0;
  let n = 0;
  for (const height of chain.unanchored.slice(0, 20)) {
    const b = await deps.blocks.get(chain.tenant_id, height);
    if (!b) continue;
    let token: string;
    try {
      token = await deps.timestamper.stamp(b.block_hash);
    } catch {
      break; // still down; keep the lag visible
    }
    const at = deps.clock.now().toISOString();
    const stamped: AuditBlock = { ...b, timestamp: { token, tsa_url: deps.timestamper.url, anchored_at: at } };
    await deps.blocks.put(stamped);
    await deps.chain.recordAnchor(chain.tenant_id, height, at);
    await copyToDestinations(deps, stamped);
    n++;
  }
  return n;
}

/**
 * A destination is written only once verified (F16): the role is assumed with the tenant's
 * ARX-generated external id and the handshake object written. Until then the handshake is
 * retried on every seal and blocks wait in the queue.
 */
export async function verifyDestination(
  deps: Pick<SealerDeps, 'destinations' | 'clock'>,
  d: Destination,
): Promise<boolean> {
  if (d.status === 'verified') return true;
  const at = deps.clock.now().toISOString();
  try {
    await deps.destinations!.writer.handshake(d, at);
  } catch (e) {
    await deps.destinations!.store.setStatus(d.tenant_id, d.destination_id, {
      status: 'pending_verification',
      last_error: `handshake failed: ${(e as Error).name || 'Error'}`,
    });
    return false;
  }
  await deps.destinations!.store.setStatus(d.tenant_id, d.destination_id, { status: 'verified', verified_at: at });
  return true;
}

async function copyToDestinations(deps: SealerDeps, block: AuditBlock): Promise<void> {
  if (!deps.destinations) return;
  const tenantId = block.head.tenant_id;
  for (const d of await deps.destinations.store.list(tenantId)) {
    if (!(await verifyDestination(deps, d))) {
      await deps.destinations.store.enqueue(
        tenantId,
        d.destination_id,
        block.head.height,
        'DestinationNotVerified',
        deps.clock.now().toISOString(),
      );
      continue;
    }
    try {
      await deps.destinations.writer.write(d, block);
    } catch (e) {
      await deps.destinations.store.enqueue(
        tenantId,
        d.destination_id,
        block.head.height,
        (e as Error).name || 'WriteFailed',
        deps.clock.now().toISOString(),
      );
    }
  }
}

/** Replays queued destination writes, oldest first; stops at the first failure per destination. */
async function replayDestinations(deps: SealerDeps, tenantId: string): Promise<number> {
  if (!deps.destinations) return 0;
  const queue = await deps.destinations.store.queued(tenantId, 100);
  if (queue.length === 0) return 0;
  const dests = new Map((await deps.destinations.store.list(tenantId)).map((d) => [d.destination_id, d]));
  const blocked = new Set<string>();
  let n = 0;
  for (const q of queue) {
    if (blocked.has(q.destination_id)) continue;
    const d = dests.get(q.destination_id);
    const b = d ? await deps.blocks.get(tenantId, q.height) : null;
    if (!d || !b) {
      await deps.destinations.store.dequeue(tenantId, q.destination_id, q.height);
      continue;
    }
    if (!(await verifyDestination(deps, d))) {
      blocked.add(q.destination_id);
      continue;
    }
    dests.set(d.destination_id, { ...d, status: 'verified' });
    try {
      await deps.destinations.writer.write(d, b);
      await deps.destinations.store.dequeue(tenantId, q.destination_id, q.height);
      n++;
    } catch (e) {
      blocked.add(q.destination_id);
      await deps.destinations.store.bumpAttempt(
        tenantId,
        q.destination_id,
        q.height,
        (e as Error).name || 'WriteFailed',
      );
    }
  }
  return n;
}

/** Seals every tenant with pending events, once. */
export async function sealAll(deps: SealerDeps): Promise<SealResult[]> {
  const out: SealResult[] = [];
  for (const t of await deps.events.tenants()) {
    try {
      out.push(await sealTenant(deps, t));
    } catch (e) {
      // One tenant's failure (KMS, S3, a moved head) must not stop the others; its events stay pending.
      out.push({ tenant_id: t, sealed: null, anchoredRetries: 0, replayed: 0, error: (e as Error).name || 'Error' });
    }
  }
  return out;
}

/**
 * Runs `sealAll` every `intervalMs` until `budgetMs` has elapsed (the scheduled function runs
 * once a minute and loops inside its run, giving one block per tenant about every 5 s).
 */
export async function sealLoop(
  deps: SealerDeps,
  opts: { intervalMs: number; budgetMs: number; sleep?: (ms: number) => Promise<void> },
): Promise<SealResult[]> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = deps.clock.now().getTime();
  const all: SealResult[] = [];
  for (;;) {
    const tick = deps.clock.now().getTime();
    all.push(...(await sealAll(deps)));
    const elapsed = deps.clock.now().getTime() - start;
    if (elapsed + opts.intervalMs > opts.budgetMs) return all;
    await sleep(Math.max(0, opts.intervalMs - (deps.clock.now().getTime() - tick)));
  }
}

export { blockKey };
