import type { Clock } from '../../shared/clock.js';
import type { Caller, TraceIds } from '../../shared/ports.js';
import { NotFoundError } from '../../shared/errors.js';
import { newId, newSecret, sha256Hex } from '../../shared/ids.js';
import type { AgentRecord, ExtraPut, InventoryStore } from '../../shared/ports.js';
import { spiffeIdOf } from '../../shared/ids.js';
import type { RegisterAgentBody } from '../schemas.js';

/** How long an unused bootstrap token stays exchangeable. */
export const BOOTSTRAP_TTL_S = 7 * 24 * 3600;

export interface AgentDeps {
  readonly inventory: InventoryStore;
  readonly clock: Clock;
  /** Table holding hashed bootstrap tokens (the control table). */
  readonly controlTable: string;
}

export type { Caller, TraceIds } from '../../shared/ports.js';

/** Public view of an agent (seed C2.1 AgentIdentity). */
export interface AgentIdentity {
  agent_id: string;
  spiffe_id: string;
  tenant_id: string;
  platform: string;
  platform_native_id: string;
  name?: string;
  cohort?: string;
  human_owner_oidc_sub: string;
  owner: AgentRecord['owner'];
  status: AgentRecord['status'];
  version: number;
  created_at: string;
  updated_at: string;
  last_rotated_at?: string;
}

export function toIdentity(r: AgentRecord): AgentIdentity {
  return {
    agent_id: r.agent_id,
    spiffe_id: r.spiffe_id,
    tenant_id: r.tenant_id,
    platform: r.platform,
    platform_native_id: r.platform_native_id,
    ...(r.name ? { name: r.name } : {}),
    ...(r.cohort ? { cohort: r.cohort } : {}),
    human_owner_oidc_sub: r.owner.oidc_sub,
    owner: r.owner,
    status: r.status,
    version: r.version,
    created_at: r.created_at,
    updated_at: r.valid_from,
    ...(r.last_rotated_at ? { last_rotated_at: r.last_rotated_at } : {}),
  };
}

/** Control-table item for a hashed, single-use bootstrap token. The token itself is never stored. */
export function bootstrapItem(
  token: string,
  tenantId: string,
  agentId: string,
  generation: number,
  now: Date,
): Record<string, unknown> {
  const expires = new Date(now.getTime() + BOOTSTRAP_TTL_S * 1000);
  return {
    pk: `BOOT#${sha256Hex(token)}`,
    sk: 'BOOT',
    tenant_id: tenantId,
    agent_id: agentId,
    generation,
    used: false,
    created_at: now.toISOString(),
    expires_at: expires.toISOString(),
    expires_at_epoch: Math.floor(expires.getTime() / 1000),
  };
}

export function bootstrapPut(
  controlTable: string,
  token: string,
  tenantId: string,
  agentId: string,
  generation: number,
  now: Date,
): ExtraPut {
  return {
    table: controlTable,
    item: bootstrapItem(token, tenantId, agentId, generation, now),
    condition: 'attribute_not_exists(pk)',
  };
}

/**
 * Registers an agent: status active, owner bound, SCD-2 version 1, and a one-time bootstrap token
 * that is returned once and stored only as its SHA-256. The inventory write, the token hash and
 * the `inventory.change` event commit in one transaction.
 */
export async function registerAgent(
  deps: AgentDeps,
  caller: Caller,
  input: RegisterAgentBody,
  trace: TraceIds,
): Promise<AgentIdentity & { bootstrap_token: string }> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const agentId = newId('agt', now);
  const record: AgentRecord = {
    tenant_id: caller.tenantId,
    agent_id: agentId,
    spiffe_id: spiffeIdOf(caller.tenantId, input.platform, agentId),
    platform: input.platform,
    platform_native_id: input.platform_native_id,
    ...(input.name ? { name: input.name } : {}),
    ...(input.cohort ? { cohort: input.cohort } : {}),
    owner: {
      oidc_sub: input.owner.oidc_sub,
      ...(input.owner.email ? { email: input.owner.email } : {}),
      ...(input.owner.team ? { team: input.owner.team } : {}),
      attested_at: at,
      attestation_method: 'registration',
      status: 'live',
    },
    status: 'active',
    version: 1,
    created_at: at,
    valid_from: at,
    credential_generation: 1,
    changed_by: caller.subject,
    change_reason: 'registered',
  };
  const token = newSecret('arxb');
  await deps.inventory.create(
    record,
    {
      event_id: newId('evt', now),
      tenant_id: caller.tenantId,
      agent_id: agentId,
      change: 'registered',
      version: 1,
      status: 'active',
      at,
      actor: caller.subject,
      correlation_id: trace.correlationId,
      trace_id: trace.traceId,
    },
    [bootstrapPut(deps.controlTable, token, caller.tenantId, agentId, 1, now)],
  );
  return { ...toIdentity(record), bootstrap_token: token };
}

/** Reads one agent of the caller's tenant; another tenant's agent is indistinguishable from none (404). */
export async function getAgent(
  deps: Pick<AgentDeps, 'inventory'>,
  tenantId: string,
  agentId: string,
): Promise<AgentRecord> {
  const r = /^agt_[0-9A-HJKMNP-TV-Z]{26}$/.test(agentId) ? await deps.inventory.get(tenantId, agentId) : null;
  if (!r) throw new NotFoundError(`agent ${agentId} not found`);
  return r;
}
