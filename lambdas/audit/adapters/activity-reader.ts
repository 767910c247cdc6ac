import type { ActivityReader, AgentActivity } from '../../shared/ports.js';
import { blockId } from '../core/block.js';
import type { ChainStore, EventStore } from '../core/ports.js';

/** Event types that are decisions on approvals (seed C6.3 "all approval decisions"). */
const APPROVAL_TYPES = new Set(['decision.required', 'decision.approved', 'decision.denied', 'decision.expired']);
/** Event types that count as the agent acting. */
const ACTION_TYPES = new Set(['operation.executed', 'operation.failed']);

/**
 * What an agent did, for the kill switch's exit attestation, read from the audit store (events
 * by agent, gsi2): action counts over the window, approval decisions, drift events; and the chain
 * head. Reads at most `maxEvents` events (newest window first is not guaranteed: the attestation
 * states events_seen).
 */
export class AuditActivityReader implements ActivityReader {
  constructor(
    private readonly events: Pick<EventStore, 'listEvents'>,
    private readonly chain: Pick<ChainStore, 'getChain'>,
    private readonly maxEvents = 5000,
  ) {}

  async summarize(tenantId: string, agentId: string, since: Date, until: Date): Promise<AgentActivity> {
    const counts: Record<string, number> = {};
    const approvals: Record<string, unknown>[] = [];
    const drift: Record<string, unknown>[] = [];
    let seen = 0;
    let next: string | undefined;
    do {
      const page = await this.events.listEvents(tenantId, { agentId, limit: 100, nextToken: next });
      for (const e of page.items) {
        seen++;
        const at = Date.parse(e.occurred_at);
        if (at < since.getTime() || at > until.getTime()) continue;
        if (ACTION_TYPES.has(e.event_type)) counts[e.action] = (counts[e.action] ?? 0) + 1;
        else if (APPROVAL_TYPES.has(e.event_type)) {
          approvals.push({
            event_id: e.event_id,
            event_type: e.event_type,
            action: e.action,
            decision: e.decision,
            occurred_at: e.occurred_at,
          });
        } else if (e.event_type.includes('drift')) {
          drift.push({ event_id: e.event_id, event_type: e.event_type, occurred_at: e.occurred_at });
        }
      }
      next = page.next_token;
    } while (next && seen < this.maxEvents);
    return {
      action_counts: counts,
      approvals,
      drift_events: drift,
      events_seen: seen,
      ...(next ? { unavailable_reason: `truncated after ${seen} events` } : {}),
    };
  }

  async chainHead(tenantId: string): Promise<{ block_id?: string; height?: number; head_hash?: string } | null> {
    const c = await this.chain.getChain(tenantId);
    if (!c) return null;
    return { height: c.height, head_hash: c.head_hash, ...(c.height > 0 ? { block_id: blockId(c.height) } : {}) };
  }
}
