/**
 * Agent credential lifecycle (seed C2.1): rotate issues a fresh bootstrap credential and bumps the
 * credential generation so every outstanding SVID stops verifying; revoke / suspend / terminate
 * write the revocation list first (PDPs deny within their cache window), then the inventory
 * status (SCD-2, inventory.change), then cascade to every cached credential binding.
 */
import type { Clock } from '../../shared/clock.js';
import { ConflictError } from '../../shared/errors.js';
import { newId, newSecret } from '../../shared/ids.js';
import { REVOCATION_MIN_RETENTION_S } from '../../shared/revocation.js';
import type {
  AgentRecord,
  AgentStatus,
  ExtraPut,
  InventoryChange,
  InventoryStore,
  RevocationEntry,
} from '../../shared/ports.js';
import { bootstrapPut, getAgent, toIdentity, type AgentIdentity, type Caller, type TraceIds } from './agents.js';
import { SVID_MAX_TTL_S } from './keys.js';
import type { AgentCredentialState } from './verify.js';

export interface LifecycleDeps {
  readonly inventory: InventoryStore;
  readonly clock: Clock;
  readonly controlTable: string;
  readonly drl: { revoke(entry: RevocationEntry): Promise<void> };
  /** Control-table item mirroring generation/status for verifiers (same transaction as the inventory). */
  readonly agentState: (tenantId: string, agentId: string, state: AgentCredentialState, at: string) => ExtraPut;
  /** Credential broker cascade. */
  readonly credentials: { revokeAgentCredentials(tenantId: string, agentId: string): Promise<unknown> };
}

export type RevokeReason = 'revoked' | 'terminated' | 'suspended';

const FROM: Record<RevokeReason, readonly AgentStatus[]> = {
  suspended: ['active'],
  revoked: ['active', 'suspended'],
  terminated: ['active', 'suspended', 'revoked'],
};

function change(
  rec: AgentRecord,
  kind: InventoryChange['change'],
  caller: Caller,
  trace: TraceIds,
  now: Date,
): InventoryChange {
  return {
    event_id: newId('evt', now),
    tenant_id: rec.tenant_id,
    agent_id: rec.agent_id,
    change: kind,
    version: rec.version + 1,
    status: rec.status,
    at: now.toISOString(),
    actor: caller.subject,
    correlation_id: trace.correlationId,
    trace_id: trace.traceId,
  };
}

export interface RotateResult {
  agent_id: string;
  spiffe_id: string;
  credential_generation: number;
  last_rotated_at: string;
  /** Shown once; stored only hashed. */
  bootstrap_token: string;
}

/** Rotates an agent's credential: new bootstrap token, generation + 1, outstanding SVIDs invalid. */
export async function rotateAgent(
  deps: LifecycleDeps,
  caller: Caller,
  agentId: string,
  trace: TraceIds,
): Promise<RotateResult> {
  const rec = await getAgent(deps, caller.tenantId, agentId);
  if (rec.status !== 'active' && rec.status !== 'suspended')
    throw new ConflictError(`agent ${agentId} is ${rec.status}; it cannot be rotated`);
  const now = deps.clock.now();
  const at = now.toISOString();
  const generation = rec.credential_generation + 1;
  const token = newSecret('arxb');
  await deps.inventory.update(
    rec,
    { credential_generation: generation, last_rotated_at: at },
    { at, actor: caller.subject, reason: 'credential rotated', change: change(rec, 'rotated', caller, trace, now) },
    {
      requireStatusIn: ['active', 'suspended'],
      extra: [
        bootstrapPut(deps.controlTable, token, rec.tenant_id, rec.agent_id, generation, now),
        deps.agentState(rec.tenant_id, rec.agent_id, { generation, status: rec.status as 'active' | 'suspended' }, at),
      ],
    },
  );
  await deps.credentials.revokeAgentCredentials(rec.tenant_id, rec.agent_id);
  return {
    agent_id: rec.agent_id,
    spiffe_id: rec.spiffe_id,
    credential_generation: generation,
    last_rotated_at: at,
    bootstrap_token: token,
  };
}

/**
 * Revokes, suspends or terminates an agent. Idempotent: repeating it refreshes the revocation
 * entry and the cascade and answers the current identity.
 */
export async function revokeAgent(
  deps: LifecycleDeps,
  caller: Caller,
  agentId: string,
  reason: RevokeReason,
  trace: TraceIds,
  note?: string,
): Promise<AgentIdentity> {
  let rec = await getAgent(deps, caller.tenantId, agentId);
  // Never weaken: revoking a terminated agent (or suspending a revoked one) keeps the stronger state.
  const RANK: Record<string, number> = { active: 0, suspended: 1, revoked: 2, terminated: 3 };
  if (RANK[rec.status]! > RANK[reason]!) reason = rec.status as RevokeReason;
  const now = deps.clock.now();
  const at = now.toISOString();
  // Revocation list first: the agent is stopped everywhere even if a later step fails.
  await deps.drl.revoke({
    tenant_id: rec.tenant_id,
    agent_id: rec.agent_id,
    spiffe_id: rec.spiffe_id,
    revoked_at: at,
    reason_code: reason,
    ttl_until: new Date(now.getTime() + Math.max(SVID_MAX_TTL_S, REVOCATION_MIN_RETENTION_S) * 1000).toISOString(),
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (rec.status === reason || !FROM[reason].includes(rec.status)) break;
    try {
      rec = await deps.inventory.update(
        rec,
        { status: reason },
        {
          at,
          actor: caller.subject,
          reason: note ? `${reason}: ${note}` : reason,
          change: change(rec, 'status', caller, trace, now),
        },
        {
          requireStatusIn: FROM[reason],
          extra: [
            deps.agentState(rec.tenant_id, rec.agent_id, { generation: rec.credential_generation, status: reason }, at),
          ],
        },
      );
      break;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt === 2) throw e;
      rec = await getAgent(deps, caller.tenantId, agentId);
    }
  }
  await deps.credentials.revokeAgentCredentials(rec.tenant_id, rec.agent_id);
  return toIdentity(rec);
}
