import type { AuditEvent } from '../core/events.js';
import { DynamoEventStore } from './dynamo-event-store.js';

/** How late after it occurred an event may be recorded and still be counted in its window. */
export const RECORDING_SLACK_MS = 15 * 60_000;

/**
 * The audit events of some types that occurred in [from, to), at most `max` read (`truncated`
 * says when there were more). Events are keyed by when they were recorded, so the read runs
 * {@link RECORDING_SLACK_MS} past `to` and keeps what occurred inside the window.
 */
export function createAuditWindowReader(auditTable: string): {
  eventsBetween(
    tenantId: string,
    from: string,
    to: string,
    o: { types: readonly string[]; max: number },
  ): Promise<{ events: AuditEvent[]; truncated: boolean }>;
} {
  const store = new DynamoEventStore(auditTable);
  return {
    async eventsBetween(tenantId, from, to, o) {
      const until = new Date(Date.parse(to) + RECORDING_SLACK_MS).toISOString();
      const stored = await store.eventsBetween(tenantId, from, until, o.max + 1);
      const types = new Set(o.types);
      const events = stored
        .slice(0, o.max)
        .map((s) => s.event)
        .filter((e) => types.has(e.event_type) && e.occurred_at >= from && e.occurred_at < to);
      return { events, truncated: stored.length > o.max };
    },
  };
}
