/**
 * Whether a principal may be decided for at all: every decision point forbids a principal that is
 * not in the inventory, suspended, revoked, terminated, unsanctioned or orphaned past the grace
 * period, before any policy is evaluated (issue 10 §2.3). Pure: the inventory comes in through the
 * InventoryReader port, time through the clock.
 */
import type { Clock } from '../../shared/clock.js';
import { REVOCATION_CACHE_MS, type InventoryReader, type PrincipalInventoryRecord } from '../../shared/ports.js';

/** Stable refusal codes (they go into `decision.reason`). */
export type PrincipalRefusal =
  | 'principal_unknown'
  | 'principal_suspended'
  | 'principal_revoked'
  | 'principal_terminated'
  | 'principal_orphaned'
  | 'principal_unsanctioned'
  | 'principal_status_unavailable';

export type PrincipalState =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: PrincipalRefusal; readonly detail: string };

/** Port of the decision point: the principal's state with a bounded staleness window. */
export interface PrincipalStatusPort {
  status(tenantId: string, agentId: string): Promise<PrincipalState>;
}

/** Seven days, as the orphan sweeper (identity's DEFAULT_ORPHAN_GRACE_S). */
export const DEFAULT_ORPHAN_GRACE_S = 7 * 24 * 3600;

const refuse = (reason: PrincipalRefusal, detail: string): PrincipalState => ({ ok: false, reason, detail });

/**
 * Judges one inventory record at `now`. Orphaned agents stay decidable during the grace period
 * (the owner may be re-attested); past it they are refused even before the sweeper suspends them.
 */
export function judgePrincipal(
  rec: PrincipalInventoryRecord | null,
  now: Date,
  orphanGraceS = DEFAULT_ORPHAN_GRACE_S,
): PrincipalState {
  if (!rec) return refuse('principal_unknown', 'principal is not in the inventory');
  switch (rec.status) {
    case 'active':
      break;
    case 'suspended':
      return refuse('principal_suspended', 'principal is suspended');
    case 'revoked':
      return refuse('principal_revoked', 'principal is revoked');
    case 'terminated':
      return refuse('principal_terminated', 'principal is terminated');
    default:
      return refuse('principal_status_unavailable', 'principal has an unrecognised inventory status');
  }
  if (rec.sanctioned === false)
    return refuse('principal_unsanctioned', 'principal was discovered but never sanctioned');
  if (rec.owner_status === 'orphaned') {
    const since = rec.orphaned_at ? Date.parse(rec.orphaned_at) : NaN;
    // an orphan without a readable time is treated as past the grace period (fail closed)
    if (!Number.isFinite(since) || now.getTime() - since > orphanGraceS * 1000) {
      return refuse('principal_orphaned', 'principal is orphaned past the grace period (its owner left)');
    }
  }
  return { ok: true };
}

/**
 * Inventory status cache with the revocation list's bounded window (REVOCATION_CACHE_MS): an
 * answer (including "not in the inventory") is reused for at most `windowMs`; once it is older, a
 * failed read refuses the principal as `principal_status_unavailable`.
 */
export class CachedPrincipalStatus implements PrincipalStatusPort {
  private readonly cache = new Map<string, { rec: PrincipalInventoryRecord | null; at: number }>();
  constructor(
    private readonly reader: InventoryReader,
    private readonly clock: Clock,
    private readonly o: { windowMs?: number; orphanGraceS?: number; maxEntries?: number } = {},
  ) {}

  async status(tenantId: string, agentId: string): Promise<PrincipalState> {
    const key = `${tenantId}|${agentId}`;
    const now = this.clock.now();
    const windowMs = this.o.windowMs ?? REVOCATION_CACHE_MS;
    const hit = this.cache.get(key);
    if (hit && now.getTime() - hit.at < windowMs) return judgePrincipal(hit.rec, now, this.o.orphanGraceS);
    let rec: PrincipalInventoryRecord | null;
    try {
      rec = await this.reader.principal(tenantId, agentId);
    } catch {
      return refuse('principal_status_unavailable', 'principal status unavailable (inventory unreachable)');
    }
    if (this.cache.size >= (this.o.maxEntries ?? 10_000)) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { rec, at: now.getTime() });
    return judgePrincipal(rec, now, this.o.orphanGraceS);
  }
}
