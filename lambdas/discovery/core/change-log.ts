import type { InventoryChange } from '../../shared/ports.js';

/** Port: the record of inventory changes seen by the discovery consumer. */
export interface ChangeLog {
  /** Records the change; returns false when it was already recorded (a re-delivery). */
  recordOnce(change: InventoryChange, receivedAt: string): Promise<boolean>;
  list(tenantId: string, agentId: string): Promise<InventoryChange[]>;
}

const FIELDS = [
  'event_id',
  'tenant_id',
  'agent_id',
  'change',
  'version',
  'status',
  'at',
  'actor',
  'correlation_id',
  'trace_id',
] as const;

/** Validates an event detail as an InventoryChange, or returns null (poison events are dropped with a log). */
export function parseInventoryChange(detail: unknown): InventoryChange | null {
  if (!detail || typeof detail !== 'object') return null;
  const d = detail as Record<string, unknown>;
  for (const f of FIELDS) if (d[f] === undefined || d[f] === null) return null;
  if (typeof d.version !== 'number') return null;
  return Object.fromEntries(FIELDS.map((f) => [f, d[f]])) as unknown as InventoryChange;
}
