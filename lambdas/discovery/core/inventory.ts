import type { AgentStatus } from '../schemas.js';

/** The owner binding of an agent (seed C2.3). */
export interface OwnerBinding {
  readonly oidc_sub: string;
  readonly email?: string;
  readonly team?: string;
  readonly attested_at: string;
  readonly attestation_method: 'registration' | 'api' | 'reattest';
  /** `orphaned` when the owner left (leaver signal) and nobody re-attested. */
  readonly status: 'live' | 'orphaned';
  readonly orphaned_at?: string;
}

/**
 * One version of an agent in the inventory (SCD type 2): every change writes a new version with
 * `valid_from`; the previous version gets `valid_to`. The current version is also kept under a
 * `CURRENT` key for reads.
 */
export interface AgentRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly spiffe_id: string;
  readonly platform: string;
  readonly platform_native_id: string;
  readonly name?: string;
  readonly cohort?: string;
  readonly owner: OwnerBinding;
  readonly status: AgentStatus;
  readonly version: number;
  readonly created_at: string;
  readonly valid_from: string;
  readonly valid_to?: string;
  readonly last_rotated_at?: string;
  /** Bumped by rotate: SVIDs carrying an older generation are invalid. */
  readonly credential_generation: number;
  readonly changed_by: string;
  readonly change_reason: string;
}

export type InventoryChangeKind = 'registered' | 'status' | 'owner' | 'rotated' | 'updated';

/** Payload of the `inventory.change` event. */
export interface InventoryChange {
  readonly event_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly change: InventoryChangeKind;
  readonly version: number;
  readonly status: AgentStatus;
  readonly at: string;
  readonly actor: string;
  readonly correlation_id: string;
  readonly trace_id: string;
}

export interface AgentFilter {
  readonly platform?: string;
  readonly status?: AgentStatus;
  readonly owner?: string;
  readonly cohort?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly next_token?: string;
}

/** Extra item written in the same transaction (e.g. a hashed bootstrap token in the control table). */
export interface ExtraPut {
  readonly table: string;
  readonly item: Record<string, unknown>;
  /** Condition (e.g. `attribute_not_exists(pk)`); omitted means unconditional. */
  readonly condition?: string;
}

/** Port: the agent inventory. Writes are atomic with their change event (transactional outbox). */
export interface InventoryStore {
  /** Creates version 1. ConflictError when (tenant, platform, platform_native_id) is already registered. */
  create(record: AgentRecord, change: InventoryChange, extra?: readonly ExtraPut[]): Promise<void>;
  get(tenantId: string, agentId: string): Promise<AgentRecord | null>;
  /**
   * Writes version `current.version + 1` with `patch` applied, closing the current version.
   * ConflictError when the stored version moved on (optimistic concurrency).
   */
  update(
    current: AgentRecord,
    patch: Partial<Pick<AgentRecord, 'status' | 'owner' | 'cohort' | 'name' | 'last_rotated_at' | 'credential_generation'>>,
    meta: { at: string; actor: string; reason: string; change: InventoryChange },
    options?: { requireStatusIn?: readonly AgentStatus[]; extra?: readonly ExtraPut[] },
  ): Promise<AgentRecord>;
  list(tenantId: string, filter: AgentFilter, limit: number, nextToken?: string): Promise<Page<AgentRecord>>;
  /** All versions, oldest first. */
  history(tenantId: string, agentId: string): Promise<AgentRecord[]>;
}

/** SPIFFE id of an agent (seed C2.1). */
export const spiffeIdOf = (tenantId: string, platform: string, agentId: string): string =>
  `spiffe://${tenantId}.arx/${platform}/${agentId}`;

/** Applies a filter in memory (the store pre-filters by tenant; this keeps semantics in one place). */
export function matchesFilter(r: AgentRecord, f: AgentFilter): boolean {
  return (
    (!f.platform || r.platform === f.platform) &&
    (!f.status || r.status === f.status) &&
    (!f.owner || r.owner.oidc_sub === f.owner || r.owner.email === f.owner) &&
    (!f.cohort || r.cohort === f.cohort)
  );
}
