import type { AgentRecord, InventoryStore } from '../../shared/ports.js';
import type { Caller, TraceIds } from '../../shared/ports.js';
import type { Clock } from '../../shared/clock.js';
import { ConflictError, DependencyError, ForbiddenError, NotFoundError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { describeError, initialSteps, type Termination, type TerminationScope } from './model.js';
import {
  SagaAlreadyStartedError,
  type AgentStepResult,
  type QuorumRequest,
  type RevocationWriter,
  type SagaStarter,
  type TerminationStore,
} from './ports.js';
import { mapLimit, revokeInList, terminateInInventory, type AgentStatePut } from './saga.js';

/** Two different admins must agree on an emergency stop within this window (seed C6.1). */
export const QUORUM_WINDOW_MS = 10 * 60 * 1000;

export interface TerminateDeps {
  readonly clock: Clock;
  readonly store: TerminationStore;
  readonly inventory: InventoryStore;
  readonly revocations: RevocationWriter;
  readonly starter: SagaStarter;
  readonly tokenTtlSeconds: number;
  /** Identity's credential-state mirror, updated with the inventory (SVID verifiers read it). */
  readonly agentState?: AgentStatePut;
}

export type { Caller, TraceIds } from '../../shared/ports.js';

export interface TerminateOutcome {
  readonly termination: Termination;
  /** False when an existing termination of the agent was returned instead of a new run. */
  readonly created: boolean;
}

/**
 * Terminates `agentIds` under one new termination: stores it, claims each agent (one termination
 * per agent, ever), runs the fail-closed steps 1–2 inline so enforcement sees the agent revoked
 * before this returns, then starts the saga (execution name = termination id). A single agent
 * that another termination already claimed returns that termination instead (no second run).
 */
export async function terminate(
  deps: TerminateDeps,
  caller: Caller,
  req: {
    scope: TerminationScope;
    targetId: string;
    agentIds: readonly string[];
    reason: string;
    confirmedBy?: string;
    initiatedBy?: string;
    /** Inventory records already read (saves a read per agent on the hot path). */
    known?: ReadonlyMap<string, AgentRecord>;
  },
  trace: TraceIds,
): Promise<TerminateOutcome> {
  if (req.scope === 'agent') {
    const existing = await existingFor(deps, caller.tenantId, req.agentIds[0]!);
    if (existing) return { termination: existing, created: false };
  }
  const now = deps.clock.now();
  const t: Termination = {
    termination_id: newId('term', now),
    tenant_id: caller.tenantId,
    scope: req.scope,
    target_id: req.targetId,
    agent_ids: [...req.agentIds],
    reason: req.reason,
    initiated_by: req.initiatedBy ?? caller.subject,
    ...(req.confirmedBy ? { confirmed_by: req.confirmedBy } : {}),
    initiated_at: now.toISOString(),
    status: 'in_flight',
    steps: initialSteps(),
    correlation_id: trace.correlationId,
    trace_id: trace.traceId,
  };
  const { claimed, taken } = await deps.store.create(t);
  if (req.scope === 'agent' && claimed.length === 0) {
    // Lost a race with a concurrent terminate of the same agent: answer with the winner.
    const winner = taken[0] ? await deps.store.get(caller.tenantId, taken[0].termination_id) : null;
    if (winner) return { termination: await ensureStarted(deps, winner), created: false };
    throw new ConflictError(`agent ${req.agentIds[0]} is already being terminated`);
  }
  if (taken.length > 0) await deps.store.setAgents(caller.tenantId, t.termination_id, claimed, taken);
  const mine: Termination = { ...t, agent_ids: claimed, ...(taken.length ? { already_terminating: taken } : {}) };
  // F5: agents another termination took may belong to a failed earlier run (claims kept, steps 1–2
  // not ok, saga never started): finish that run's job before this one reports anything.
  await Promise.all([failClosedSteps(deps, mine, req.known), resumeTaken(deps, caller.tenantId, taken, req.known)]);
  return { termination: await ensureStarted(deps, mine), created: true };
}

/**
 * Resumes the terminations that hold claims on agents in scope when they are `in_flight` and a
 * previous call left them unfinished (no execution, or steps 1–2 not `ok`): runs their steps 1–2
 * (a failure is a 503, the retry resumes again) and starts their saga.
 */
async function resumeTaken(
  deps: TerminateDeps,
  tenantId: string,
  taken: readonly { agent_id: string; termination_id: string }[],
  known?: ReadonlyMap<string, AgentRecord>,
): Promise<void> {
  const ids = [...new Set(taken.map((x) => x.termination_id))];
  await mapLimit(ids, 4, async (id) => {
    const other = id === 'unknown' ? null : await deps.store.get(tenantId, id);
    if (!other) {
      // the claim names no readable termination: stop those agents under ours instead of trusting it
      const orphans = taken.filter((x) => x.termination_id === id).map((x) => x.agent_id);
      throw new DependencyError(
        `agents ${orphans.join(', ').slice(0, 200)} are claimed by an unreadable termination; retry the request`,
      );
    }
    if (other.status !== 'in_flight') return;
    const unfinished = other.steps.slice(0, 2).some((st) => st.status !== 'ok');
    if (unfinished) await failClosedSteps(deps, other, known);
    if (unfinished || !other.execution_arn) await ensureStarted(deps, other);
  });
}

/** The termination that already claimed this agent, with its saga started (idempotent retry). */
async function existingFor(deps: TerminateDeps, tenantId: string, agentId: string): Promise<Termination | null> {
  const id = await deps.store.claimOf(tenantId, agentId);
  if (!id) return null;
  const t = await deps.store.get(tenantId, id);
  if (!t) return null;
  if (t.status === 'in_flight') {
    // A previous call may have died between claiming and starting: finish its job.
    const first = t.steps.slice(0, 2);
    if (first.some((s) => s.status !== 'ok')) await failClosedSteps(deps, t);
    return ensureStarted(deps, t);
  }
  return t;
}

/**
 * Steps 1–2 inline (the saga repeats them idempotently), concurrently: the inventory's conditional
 * write and the DRL entry. Any failure is a 503 and nothing later runs; a retry of the call
 * resumes here.
 */
async function failClosedSteps(
  deps: TerminateDeps,
  t: Termination,
  known: ReadonlyMap<string, AgentRecord> = new Map(),
): Promise<void> {
  const tenant = t.tenant_id;
  const run = async (step: 'inventory' | 'revocation'): Promise<string[]> => {
    const results: Record<string, AgentStepResult> = {};
    const failures: string[] = [];
    await mapLimit(t.agent_ids, 16, async (agentId) => {
      try {
        const r =
          step === 'inventory'
            ? await terminateInInventory(deps, t, agentId, known.get(agentId))
            : await revokeInList(deps, t, agentId, known.get(agentId));
        results[agentId] = { ...r, ok: true, at: deps.clock.now().toISOString() };
      } catch (e) {
        failures.push(`${agentId}: ${describeError(e)}`);
      }
    });
    const at = deps.clock.now().toISOString();
    await deps.store
      .endStep(
        tenant,
        t.termination_id,
        step,
        failures.length
          ? { status: 'pending', at, error: failures.join('; ').slice(0, 400), results, attempt: true }
          : { status: 'ok', at, results, attempt: true },
      )
      .catch((e: unknown) => failures.push(`bookkeeping: ${describeError(e)}`));
    return failures;
  };
  const [inv, drl] = await Promise.all([run('inventory'), run('revocation')]);
  if (inv.length || drl.length) {
    throw new DependencyError(
      `termination ${t.termination_id}: ${inv.length ? 'inventory' : 'revocation'} step failed; retry the request`,
    );
  }
}

async function ensureStarted(deps: TerminateDeps, t: Termination): Promise<Termination> {
  if (t.execution_arn) return t;
  let arn: string;
  try {
    arn = await deps.starter.start(t.termination_id, { termination_id: t.termination_id, tenant_id: t.tenant_id });
  } catch (e) {
    if (e instanceof SagaAlreadyStartedError) return t;
    throw new DependencyError(
      `termination ${t.termination_id}: could not start the saga; the agent is already refused. Retry the request`,
      { cause: e },
    );
  }
  await deps.store.setExecution(t.tenant_id, t.termination_id, arn);
  return { ...t, execution_arn: arn };
}

/** POST /v1/agents/{id}/terminate */
export async function terminateAgent(
  deps: TerminateDeps,
  caller: Caller,
  agentId: string,
  reason: string,
  trace: TraceIds,
): Promise<TerminateOutcome> {
  const rec = await deps.inventory.get(caller.tenantId, agentId);
  if (!rec) throw new NotFoundError(`agent ${agentId} not found`);
  return terminate(
    deps,
    caller,
    { scope: 'agent', targetId: agentId, agentIds: [agentId], reason, known: new Map([[agentId, rec]]) },
    trace,
  );
}

/** Every agent of the tenant matching `keep`, across pages. */
async function listAgents(
  inventory: InventoryStore,
  tenantId: string,
  filter: { cohort?: string },
): Promise<AgentRecord[]> {
  const out: AgentRecord[] = [];
  let next: string | undefined;
  do {
    const page = await inventory.list(tenantId, filter, 100, next);
    out.push(...page.items);
    next = page.next_token;
  } while (next);
  return out;
}

/**
 * The agents a cohort/org stop covers: every agent not terminated yet, plus terminated agents whose
 * claiming termination a failed earlier run left unfinished (F5: `terminated` in the inventory is
 * step 1 only; the revocation may be missing).
 */
async function inScope(deps: TerminateDeps, tenantId: string, all: readonly AgentRecord[]): Promise<AgentRecord[]> {
  const terminations = new Map<string, Promise<Termination | null>>();
  const keep = await mapLimit(all, 16, async (a) => {
    if (a.status !== 'terminated') return true;
    const id = await deps.store.claimOf(tenantId, a.agent_id);
    if (!id) return false;
    if (!terminations.has(id)) terminations.set(id, deps.store.get(tenantId, id));
    const t = await terminations.get(id)!;
    return (
      !!t && t.status === 'in_flight' && (!t.execution_arn || t.steps.slice(0, 2).some((st) => st.status !== 'ok'))
    );
  });
  return all.filter((_, i) => keep[i]);
}

/** POST /v1/cohorts/{id}/terminate: every not-yet-terminated agent of the cohort (and any a failed run left). */
export async function terminateCohort(
  deps: TerminateDeps,
  caller: Caller,
  cohort: string,
  reason: string,
  trace: TraceIds,
): Promise<TerminateOutcome> {
  const all = await listAgents(deps.inventory, caller.tenantId, { cohort });
  if (all.length === 0) throw new NotFoundError(`cohort ${cohort} has no agents`);
  const live = await inScope(deps, caller.tenantId, all);
  return terminate(
    deps,
    caller,
    {
      scope: 'cohort',
      targetId: cohort,
      agentIds: live.map((a) => a.agent_id).sort(),
      reason,
      known: new Map(live.map((a) => [a.agent_id, a])),
    },
    trace,
  );
}

export type EmergencyStopOutcome =
  | { readonly kind: 'pending_quorum'; readonly request: QuorumRequest }
  | { readonly kind: 'started'; readonly outcome: TerminateOutcome };

/**
 * POST /v1/org/{tenant_id}/emergency_stop. The first admin's call records a request (valid 10
 * minutes); a second, different admin's call within the window consumes it and terminates every
 * agent of the tenant that is not terminated yet. The same admin twice is refused.
 */
export async function emergencyStop(
  deps: TerminateDeps,
  caller: Caller,
  pathTenantId: string,
  reason: string,
  trace: TraceIds,
): Promise<EmergencyStopOutcome> {
  if (pathTenantId !== caller.tenantId) throw new NotFoundError(`tenant ${pathTenantId} not found`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = deps.clock.now();
    const q = await deps.store.getQuorum(caller.tenantId);
    if (!q || Date.parse(q.expires_at) <= now.getTime()) {
      const request: QuorumRequest = {
        tenant_id: caller.tenantId,
        request_id: newId('estop', now),
        requested_by: caller.subject,
        reason,
        requested_at: now.toISOString(),
        expires_at: new Date(now.getTime() + QUORUM_WINDOW_MS).toISOString(),
      };
      if (await deps.store.putQuorum(request, now)) return { kind: 'pending_quorum', request };
      continue; // another admin's request landed first: decide again against it
    }
    if (q.requested_by === caller.subject) {
      throw new ForbiddenError(
        `emergency stop needs a second, different admin to confirm within ${QUORUM_WINDOW_MS / 60000} minutes; you requested it at ${q.requested_at}`,
      );
    }
    if (!(await deps.store.consumeQuorum(caller.tenantId, q.request_id))) continue;
    const all = await listAgents(deps.inventory, caller.tenantId, {});
    const live = await inScope(deps, caller.tenantId, all);
    const outcome = await terminate(
      deps,
      caller,
      {
        scope: 'org',
        targetId: caller.tenantId,
        agentIds: live.map((a) => a.agent_id).sort(),
        reason: q.reason,
        initiatedBy: q.requested_by,
        confirmedBy: caller.subject,
        known: new Map(live.map((a) => [a.agent_id, a])),
      },
      trace,
    );
    return { kind: 'started', outcome };
  }
  throw new ConflictError('the emergency-stop request changed concurrently; retry');
}

/** GET /v1/terminations/{id} */
export async function getTermination(store: TerminationStore, caller: Caller, id: string): Promise<Termination> {
  const t = await store.get(caller.tenantId, id);
  if (!t) throw new NotFoundError(`termination ${id} not found`);
  return t;
}
