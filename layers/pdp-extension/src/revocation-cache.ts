import type { Clock } from '../../../lambdas/shared/clock.js';
import type { DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import type { RevocationStatusPort } from '../../../lambdas/policy/core/decision-point.js';
import type { RevocationState } from '../../../lambdas/policy/core/decide.js';

/**
 * The extension's copy of one tenant's revocation list, kept fresh by delta reads
 * (`deltasSince`) at least every second. A decision is answered from memory while the last
 * successful read is younger than `windowMs`; past that it reads now, and when the table cannot be
 * reached the answer is `unknown` (callers forbid).
 */
export class DeltaRevocationCache implements RevocationStatusPort {
  private readonly revoked = new Map<string, number>();
  private cursor: string | null = null;
  private lastSuccess = 0;
  private inflight: Promise<void> | null = null;
  lastError: string | null = null;

  constructor(
    private readonly drl: Pick<DynamoRevocationList, 'deltasSince'>,
    private readonly tenantId: string,
    private readonly clock: Clock,
    private readonly windowMs = 1000,
    private readonly pageSize = 1000,
  ) {}

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
      for (;;) {
        const r = await this.drl.deltasSince(this.tenantId, this.cursor, this.pageSize);
        for (const e of r.entries) this.revoked.set(e.agent_id, Date.parse(e.ttl_until));
        this.cursor = r.cursor;
        if (r.entries.length < this.pageSize) break;
      }
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
