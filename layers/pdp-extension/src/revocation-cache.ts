import type { Clock } from '../../../lambdas/shared/clock.js';
import { REVOCATION_OVERLAP_MS, type DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import type { RevocationState, RevocationStatus } from '../../../lambdas/shared/ports.js';
import { REVOCATION_CACHE_MS } from '../../../lambdas/shared/ports.js';

/**
 * The delta poll period: what the operator asked for, at most 1 s and at most half the staleness
 * window, so a read always lands inside the window. A period as long as the window let the cache
 * go stale between two reads and answer `unknown` (every decision forbidden) for a moment each poll.
 */
export const revocationPollPeriod = (requestedMs: number, windowMs: number): number =>
  Math.max(1, Math.min(requestedMs, 1000, Math.floor(windowMs / 2)));

/** Full re-read of the list, whatever the deltas said (F2's backstop). */
export const DEFAULT_RESYNC_MS = 300_000;

/**
 * The extension's copy of one tenant's revocation list, kept fresh by delta reads
 * (`deltasSince`) at least every second. A decision is answered from memory while the last
 * successful read is younger than `windowMs`; past that it reads now, and when the table cannot be
 * reached the answer is `unknown` (callers forbid).
 *
 * F2: `seq` is not a gapless sequence (concurrent writers, clock skew, an eventually consistent
 * index), so each delta read starts `overlapMs` behind the highest `seq` seen and dedupes by agent,
 * and every `resyncMs` the whole list is read again and replaces the copy.
 */
export class DeltaRevocationCache implements RevocationStatus {
  private readonly revoked = new Map<string, number>();
  /** Highest `seq` read so far. */
  private highWater: string | null = null;
  private lastResync = 0;
  private lastSuccess = 0;
  private inflight: Promise<void> | null = null;
  lastError: string | null = null;

  constructor(
    private readonly drl: Pick<DynamoRevocationList, 'deltasSince'>,
    private readonly tenantId: string,
    private readonly clock: Clock,
    private readonly windowMs = REVOCATION_CACHE_MS,
    private readonly pageSize = 1000,
    private readonly o: { overlapMs?: number; resyncMs?: number } = {},
  ) {}

  /** Where the next delta read starts: `overlapMs` behind the high-water mark (null = from the start). */
  private readFrom(): string | null {
    if (!this.highWater) return null;
    const t = Date.parse(this.highWater.split('#')[0] ?? '');
    if (!Number.isFinite(t)) return this.highWater;
    return new Date(t - (this.o.overlapMs ?? REVOCATION_OVERLAP_MS)).toISOString();
  }

  get size(): number {
    return this.revoked.size;
  }
  /** Milliseconds since the last successful read (Infinity before the first). */
  age(): number {
    return this.lastSuccess ? this.clock.now().getTime() - this.lastSuccess : Infinity;
  }

  /** Reads every delta since the cursor. Concurrent callers share one read. */
  poll(): Promise<void> {
    this.inflight ??= this.read().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async read(): Promise<void> {
    const started = this.clock.now().getTime();
    try {
      const full = started - this.lastResync >= (this.o.resyncMs ?? DEFAULT_RESYNC_MS);
      const into = full ? new Map<string, number>() : this.revoked;
      let cursor = full ? null : this.readFrom();
      let high = full ? null : this.highWater;
      for (;;) {
        const r = await this.drl.deltasSince(this.tenantId, cursor, this.pageSize);
        for (const e of r.entries) into.set(e.agent_id, Date.parse(e.ttl_until));
        cursor = r.cursor;
        if (cursor && (!high || cursor > high)) high = cursor;
        if (r.entries.length < this.pageSize) break;
      }
      if (full) {
        // swap in the fresh copy (it also drops entries deleted from the table)
        this.revoked.clear();
        for (const [k, v] of into) this.revoked.set(k, v);
        this.lastResync = started;
      }
      this.highWater = high;
      this.lastSuccess = started;
      this.lastError = null;
      const now = this.clock.now().getTime();
      for (const [k, ttl] of this.revoked) if (ttl <= now) this.revoked.delete(k);
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  async status(tenantId: string, agentId: string): Promise<RevocationState> {
    if (tenantId !== this.tenantId) return 'unknown';
    if (this.age() >= this.windowMs) await this.poll();
    if (this.age() >= this.windowMs) return 'unknown';
    const ttl = this.revoked.get(agentId);
    return ttl !== undefined && ttl > this.clock.now().getTime() ? 'revoked' : 'clear';
  }
}
