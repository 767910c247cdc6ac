/**
 * Owner binding (seed C2.3): every agent has one accountable human. Assign / re-attest binds an
 * owner; a leaver signal for a human orphans all their agents; a scheduled sweep suspends agents
 * that stayed orphaned past the grace period — the one place an HR signal stops an NHI by itself.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { AgentRecord, ExtraPut, OwnerBinding } from '../../shared/ports.js';
import { getAgent, toIdentity, type AgentIdentity, type Caller, type TraceIds } from './agents.js';
import { revokeAgent, type LifecycleDeps } from './lifecycle.js';

/** Default grace period before an orphaned agent is suspended. */
export const DEFAULT_ORPHAN_GRACE_S = 7 * 24 * 3600;

export interface OrphanMarkerPort {
  put(m: { tenant_id: string; agent_id: string; orphaned_at: string; former_owner_sub: string }): ExtraPut;
  remove(tenantId: string, agentId: string): Promise<void>;
  due(before: string, limit?: number): Promise<{ tenant_id: string; agent_id: string; orphaned_at: string }[]>;
}

export interface OwnerDeps extends LifecycleDeps {
  readonly orphans: OrphanMarkerPort;
}

export interface OwnerInput {
  readonly oidc_sub: string;
  readonly email?: string;
  readonly team?: string;
}

const LIVE: readonly AgentRecord['status'][] = ['active', 'suspended'];

function ownerChange(rec: AgentRecord, caller: Caller, trace: TraceIds, now: Date) {
  return {
    event_id: newId('evt', now),
    tenant_id: rec.tenant_id,
    agent_id: rec.agent_id,
    change: 'owner' as const,
    version: rec.version + 1,
    status: rec.status,
    at: now.toISOString(),
    actor: caller.subject,
    correlation_id: trace.correlationId,
    trace_id: trace.traceId,
  };
}

/**
 * Assigns an owner, or re-attests the current one (same `oidc_sub`). Clears an orphaned state.
 * A revoked or terminated agent cannot get an owner (409).
 */
export async function assignOwner(
  deps: OwnerDeps,
  caller: Caller,
  agentId: string,
  owner: OwnerInput,
  trace: TraceIds,
): Promise<AgentIdentity> {
  const rec = await getAgent(deps, caller.tenantId, agentId);
  if (!LIVE.includes(rec.status)) throw new ConflictError(`agent ${agentId} is ${rec.status}; its owner cannot change`);
  const now = deps.clock.now();
  const at = now.toISOString();
  const reattest = rec.owner.oidc_sub === owner.oidc_sub && rec.owner.status === 'live';
  const binding: OwnerBinding = {
    oidc_sub: owner.oidc_sub,
    ...(owner.email ? { email: owner.email } : reattest && rec.owner.email ? { email: rec.owner.email } : {}),
    ...(owner.team ? { team: owner.team } : reattest && rec.owner.team ? { team: rec.owner.team } : {}),
    attested_at: at,
    attestation_method: reattest ? 'reattest' : 'api',
    status: 'live',
  };
  const next = await deps.inventory.update(
    rec,
    { owner: binding },
    {
      at,
      actor: caller.subject,
      reason: reattest ? 'owner re-attested' : 'owner assigned',
      change: ownerChange(rec, caller, trace, now),
    },
    { requireStatusIn: LIVE },
  );
  if (rec.owner.status === 'orphaned') await deps.orphans.remove(rec.tenant_id, rec.agent_id);
  return toIdentity(next);
}

/** Leaver signal: every live agent the human owns becomes orphaned (and starts its grace period). */
export async function ownerLeft(
  deps: OwnerDeps,
  caller: Caller,
  oidcSub: string,
  trace: TraceIds,
): Promise<{ oidc_sub: string; orphaned: string[] }> {
  const orphaned: string[] = [];
  const now = deps.clock.now();
  const at = now.toISOString();
  let next: string | undefined;
  const owned: AgentRecord[] = [];
  do {
    const page = await deps.inventory.list(caller.tenantId, { owner: oidcSub }, 100, next);
    owned.push(
      ...page.items.filter((r) => r.owner.oidc_sub === oidcSub && r.owner.status === 'live' && LIVE.includes(r.status)),
    );
    next = page.next_token;
  } while (next);
  for (const rec of owned) {
    await deps.inventory.update(
      rec,
      { owner: { ...rec.owner, status: 'orphaned', orphaned_at: at } },
      {
        at,
        actor: caller.subject,
        reason: 'owner left the organisation',
        change: ownerChange(rec, caller, trace, now),
      },
      {
        requireStatusIn: LIVE,
        extra: [
          deps.orphans.put({
            tenant_id: rec.tenant_id,
            agent_id: rec.agent_id,
            orphaned_at: at,
            former_owner_sub: oidcSub,
          }),
        ],
      },
    );
    orphaned.push(rec.agent_id);
  }
  return { oidc_sub: oidcSub, orphaned };
}

/** Agents of the tenant without a live owner (not counting revoked/terminated ones). */
export async function listOrphans(
  deps: Pick<OwnerDeps, 'inventory'>,
  tenantId: string,
  max = 1000,
): Promise<AgentIdentity[]> {
  const out: AgentIdentity[] = [];
  let next: string | undefined;
  do {
    const page = await deps.inventory.list(tenantId, {}, 100, next);
    for (const r of page.items) if (r.owner.status === 'orphaned' && LIVE.includes(r.status)) out.push(toIdentity(r));
    next = page.next_token;
  } while (next && out.length < max);
  return out.slice(0, max);
}

/**
 * Scheduled job: suspends agents orphaned for longer than `graceS` (revocation list entry
 * `suspended`, status `suspended`, credential cascade). Markers of agents that got an owner back
 * or are gone are cleared. Idempotent.
 */
export async function sweepOrphans(deps: OwnerDeps, graceS: number): Promise<{ suspended: string[]; cleared: number }> {
  const now = deps.clock.now();
  const before = new Date(now.getTime() - graceS * 1000).toISOString();
  const due = await deps.orphans.due(before);
  const suspended: string[] = [];
  let cleared = 0;
  const system: Caller = { tenantId: '', subject: 'system:orphan-sweeper' };
  for (const m of due) {
    const rec = await deps.inventory.get(m.tenant_id, m.agent_id);
    if (rec && rec.owner.status === 'orphaned' && rec.status === 'active') {
      await revokeAgent(
        deps,
        { ...system, tenantId: m.tenant_id },
        m.agent_id,
        'suspended',
        { correlationId: newId('cor', now), traceId: randomBytes(16).toString('hex') },
        'owner orphaned past the grace period',
      );
      suspended.push(m.agent_id);
    } else {
      cleared++;
    }
    await deps.orphans.remove(m.tenant_id, m.agent_id);
  }
  return { suspended, cleared };
}
