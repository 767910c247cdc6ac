/** Read side of the audit chain: status, events, proofs, blocks, destinations. */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { eventProof, heightOf, type AuditBlock } from './block.js';
import type { BlockStore, ChainStore, Destination, DestinationStore, EventStore } from './ports.js';

export interface ReadDeps {
  readonly events: Pick<EventStore, 'getEvent' | 'countPending'>;
  readonly chain: Pick<ChainStore, 'getChain' | 'listBlocks'>;
  readonly blocks: BlockStore;
  readonly clock: Clock;
  /** Whether a TSA is configured for the sealer (ARX_TSA_URL). */
  readonly tsaConfigured?: boolean;
}

export async function chainStatus(d: ReadDeps, tenantId: string) {
  const [chain, pending] = await Promise.all([d.chain.getChain(tenantId), d.events.countPending(tenantId)]);
  const now = d.clock.now().getTime();
  const oldest = chain?.oldest_unanchored_at ? Date.parse(chain.oldest_unanchored_at) : null;
  return {
    height: chain?.height ?? 0,
    head_hash: chain?.head_hash ?? null,
    tree_size: chain?.tree_size ?? 0,
    root: chain?.root ?? null,
    last_sealed_at: chain?.last_sealed_at ?? null,
    last_anchored_at: chain?.last_anchored_at ?? null,
    pending_events: pending,
    unanchored_blocks: chain?.unanchored.length ?? 0,
    /** Seconds since the oldest un-anchored block was sealed; 0 when every block is anchored. */
    anchoring_lag_seconds: oldest === null ? 0 : Math.max(0, Math.round((now - oldest) / 1000)),
    anchoring:
      d.tsaConfigured === false ? 'tsa_not_configured' : (chain?.unanchored.length ?? 0) > 0 ? 'lagging' : 'current',
  };
}

/** The inclusion proof of a sealed event plus the signed head it verifies against. */
export async function proofOf(d: ReadDeps, tenantId: string, eventId: string) {
  const stored = await d.events.getEvent(tenantId, eventId);
  if (!stored) throw new NotFoundError(`no audit event ${eventId}`);
  if (stored.block_height === null)
    throw new ConflictError(`audit event ${eventId} is not sealed yet; retry after the next block (about 5 s)`);
  const block = await d.blocks.get(tenantId, stored.block_height);
  if (!block) throw new NotFoundError(`block ${stored.block_height} not found`);
  const i = block.events.findIndex((e) => e.event_id === eventId);
  if (i < 0) throw new NotFoundError(`audit event ${eventId} is not in its block`);
  return {
    ...eventProof(block, i),
    block_hash: block.block_hash,
    signature: block.signature,
    kid: block.head.kid,
    alg: block.head.alg,
    head: block.head,
  };
}

export async function getBlock(d: ReadDeps, tenantId: string, id: string): Promise<AuditBlock> {
  const h = heightOf(id);
  if (h === null || h < 1) throw new NotFoundError(`no block ${id}`);
  const b = await d.blocks.get(tenantId, h);
  if (!b || b.head.tenant_id !== tenantId) throw new NotFoundError(`no block ${id}`);
  return b;
}

export async function listBlocks(d: ReadDeps, tenantId: string, fromHeight: number, limit: number) {
  const rows = await d.chain.listBlocks(tenantId, fromHeight, limit + 1);
  const items = rows
    .slice(0, limit)
    .map((s) => ({ ...s.head, block_hash: s.block_hash, anchored: s.anchored, anchored_at: s.anchored_at }));
  return rows.length > limit ? { items, next_from_height: rows[limit]!.height } : { items };
}

export async function addDestination(
  d: { store: DestinationStore; clock: Clock },
  tenantId: string,
  body: { bucket: string; prefix: string; role_arn: string; region?: string | undefined },
): Promise<Destination> {
  // One external id per tenant, generated here: the customer's role trusts only this value, so
  // another tenant naming that role cannot get it assumed (F16).
  const externalId = await d.store.externalId(tenantId, `arx-${randomBytes(24).toString('base64url')}`);
  const dest: Destination = {
    destination_id: newId('dst', d.clock.now()),
    tenant_id: tenantId,
    bucket: body.bucket,
    prefix: body.prefix,
    role_arn: body.role_arn,
    external_id: externalId,
    ...(body.region ? { region: body.region } : {}),
    created_at: d.clock.now().toISOString(),
    status: 'pending_verification',
  };
  await d.store.add(dest);
  return dest;
}
