import type {
  ActivityReader,
  AgentRecord,
  ApprovalDrainer,
  AuditSink,
  ExtraPut,
  InventoryStore,
} from '../../shared/ports.js';
import type { Clock } from '../../shared/clock.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import type { EventSink, OutboxEntry } from '../../shared/events.js';
import { newId } from '../../shared/ids.js';
import { REVOCATION_MIN_RETENTION_S } from '../../shared/revocation.js';
import { buildAttestation, signAttestation } from './attestation.js';
import { describeError, finalStatus, type StepName, type Termination, type TerminationStatus } from './model.js';
import type {
  AgentStepResult,
  AttestationWriter,
  CredentialRevoker,
  PlatformKillRegistry,
  RevocationWriter,
  Signer,
  TerminationStore,
} from './ports.js';

/** Raised by a step when some agents' part of it failed (after trying every agent). */
export class StepFailedError extends Error {
  override readonly name: string = 'StepFailedError';
  constructor(
    readonly step: StepName,
    readonly failures: Record<string, string>,
  ) {
    super(
      `${step} failed for ${Object.keys(failures).length} agent(s): ${Object.entries(failures)
        .map(([a, e]) => `${a}: ${e}`)
        .join('; ')
        .slice(0, 500)}`,
    );
  }
}
/** A platform kill command failed (platform API down, refused, …). Retried by the state machine. */
export class PlatformKillError extends StepFailedError {
  override readonly name = 'PlatformKillError';
}
/** A fail-closed step (1–2) failed: the saga stops; nothing is compensated. */
export class FailClosedStepError extends StepFailedError {
  override readonly name = 'FailClosedStepError';
}

/** How long a revocation entry is kept: max(token TTL, 30 days) (seed C6.2). */
export function revocationRetentionSeconds(tokenTtlSeconds: number): number {
  return Math.max(tokenTtlSeconds, REVOCATION_MIN_RETENTION_S);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface StepContext {
  readonly clock: Clock;
  readonly store: TerminationStore;
}

/**
 * Wraps one step: counts the attempt, runs `body` over every agent not yet done (per-agent results
 * make retries idempotent), records each outcome, and ends the step `ok` — or leaves it pending with
 * the error and rethrows so the state machine retries (and, after the last retry, records it failed).
 */
export async function runStep(
  ctx: StepContext,
  tenantId: string,
  terminationId: string,
  step: StepName,
  perAgent: (
    agentId: string,
    t: Termination,
  ) => Promise<{ outcome: string; ok?: boolean; error?: string; [k: string]: unknown }>,
  options: {
    concurrency?: number;
    errorClass?: new (step: StepName, failures: Record<string, string>) => StepFailedError;
    /** Events an agent's outcome announces (`perAgent` returns them as `events`): committed with the step's outcome, then flushed here. */
    events?: EventSink;
  } = {},
): Promise<Termination> {
  const t = await ctx.store.get(tenantId, terminationId);
  if (!t) throw new NotFoundError(`termination ${terminationId} not found`);
  const current = t.steps.find((s) => s.name === step);
  const prior = current?.results ?? {};
  const remaining = t.agent_ids.filter((a) => !prior[a]?.ok);
  // Already done for every agent (e.g. steps 1-2 ran inline in the API): nothing to redo.
  if (remaining.length === 0 && current?.status === 'ok') return t;
  const results: Record<string, AgentStepResult> = {};
  const failures: Record<string, string> = {};
  const events: Record<string, OutboxEntry[]> = {};
  await mapLimit(remaining, options.concurrency ?? 8, async (agentId) => {
    try {
      const { events: announced, ...r } = await perAgent(agentId, t);
      if (Array.isArray(announced) && announced.length) events[agentId] = announced as OutboxEntry[];
      results[agentId] = { ...r, outcome: r.outcome, ok: r.ok ?? true, at: ctx.clock.now().toISOString() };
      if (!results[agentId]!.ok) failures[agentId] = r.error ?? r.outcome;
    } catch (e) {
      failures[agentId] = describeError(e);
      results[agentId] = { outcome: 'error', ok: false, at: ctx.clock.now().toISOString(), error: describeError(e) };
    }
  });
  const at = ctx.clock.now().toISOString();
  if (Object.keys(failures).length > 0) {
    const Err = options.errorClass ?? StepFailedError;
    const err = new Err(step, failures);
    await ctx.store.endStep(
      tenantId,
      terminationId,
      step,
      { status: 'pending', at, error: describeError(err), results, attempt: true },
      events,
    );
    await options.events?.flush(Object.values(events).flat());
    throw err;
  }
  await ctx.store.endStep(tenantId, terminationId, step, { status: 'ok', at, results, attempt: true }, events);
  await options.events?.flush(Object.values(events).flat());
  return t;
}

// ------------------------------------------------------------------ step 1: inventory
/** Identity's mirror of an agent's credential state for SVID verifiers, written in the inventory transaction. */
export type AgentStatePut = (
  tenantId: string,
  agentId: string,
  state: { generation: number; status: 'terminated' },
  at: string,
) => ExtraPut;

export interface InventoryStepDeps extends StepContext {
  readonly inventory: InventoryStore;
  readonly agentState?: AgentStatePut;
}

/** Sets an agent `terminated` with a conditional write; already terminated counts as done. */
export async function terminateInInventory(
  deps: Pick<InventoryStepDeps, 'inventory' | 'clock' | 'agentState'>,
  t: Pick<Termination, 'tenant_id' | 'termination_id' | 'initiated_by' | 'reason' | 'correlation_id' | 'trace_id'>,
  agentId: string,
  known?: AgentRecord | null,
): Promise<{ outcome: 'terminated' | 'already_terminated' | 'missing'; version?: number }> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const rec = attempt === 0 && known ? known : await deps.inventory.get(t.tenant_id, agentId);
    if (!rec) return { outcome: 'missing' };
    if (rec.status === 'terminated') return { outcome: 'already_terminated', version: rec.version };
    const at = deps.clock.now().toISOString();
    try {
      const next = await deps.inventory.update(
        rec,
        { status: 'terminated' },
        {
          at,
          actor: t.initiated_by,
          reason: `terminated by ${t.termination_id}: ${t.reason}`.slice(0, 500),
          change: {
            event_id: newId('evt'),
            tenant_id: t.tenant_id,
            agent_id: agentId,
            change: 'status',
            version: rec.version + 1,
            status: 'terminated',
            at,
            actor: t.initiated_by,
            correlation_id: t.correlation_id,
            trace_id: t.trace_id,
          },
        },
        {
          requireStatusIn: ['active', 'suspended', 'revoked'],
          ...(deps.agentState
            ? {
                extra: [
                  deps.agentState(
                    t.tenant_id,
                    agentId,
                    { generation: rec.credential_generation, status: 'terminated' },
                    at,
                  ),
                ],
              }
            : {}),
        },
      );
      return { outcome: 'terminated', version: next.version };
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      // Someone changed the agent concurrently: read again and decide again.
    }
  }
  throw new ConflictError(`agent ${agentId} kept changing while being terminated`);
}

export function stepInventory(deps: InventoryStepDeps, tenantId: string, terminationId: string): Promise<Termination> {
  return runStep(
    deps,
    tenantId,
    terminationId,
    'inventory',
    async (agentId, t) => terminateInInventory(deps, t, agentId),
    {
      errorClass: FailClosedStepError,
      concurrency: 16,
    },
  );
}

// ------------------------------------------------------------------ step 2: revocation list
export interface RevocationStepDeps extends StepContext {
  readonly inventory: InventoryStore;
  readonly revocations: RevocationWriter;
  /** Longest lifetime of any token ARX issues (seconds). */
  readonly tokenTtlSeconds: number;
}

/** Writes the DRL entry; `revoked_at` is the termination time so re-runs are byte-identical. */
export async function revokeInList(
  deps: Pick<RevocationStepDeps, 'inventory' | 'revocations' | 'tokenTtlSeconds'>,
  t: Pick<Termination, 'tenant_id' | 'initiated_at'>,
  agentId: string,
  known?: AgentRecord | null,
): Promise<{ outcome: 'revoked'; ttl_until: string; spiffe_id: string }> {
  const rec = known ?? (await deps.inventory.get(t.tenant_id, agentId));
  const spiffe = rec?.spiffe_id ?? `spiffe://${t.tenant_id}.arx/unknown/${agentId}`;
  const ttlUntil = new Date(
    Date.parse(t.initiated_at) + revocationRetentionSeconds(deps.tokenTtlSeconds) * 1000,
  ).toISOString();
  await deps.revocations.revoke({
    tenant_id: t.tenant_id,
    agent_id: agentId,
    spiffe_id: spiffe,
    revoked_at: t.initiated_at,
    reason_code: 'terminated',
    ttl_until: ttlUntil,
  });
  return { outcome: 'revoked', ttl_until: ttlUntil, spiffe_id: spiffe };
}

export function stepRevocation(
  deps: RevocationStepDeps,
  tenantId: string,
  terminationId: string,
): Promise<Termination> {
  return runStep(deps, tenantId, terminationId, 'revocation', async (agentId, t) => revokeInList(deps, t, agentId), {
    errorClass: FailClosedStepError,
    concurrency: 16,
  });
}

// ------------------------------------------------------------------ step 3: credentials
export function stepCredentials(
  deps: StepContext & { credentials: CredentialRevoker },
  tenantId: string,
  terminationId: string,
): Promise<Termination> {
  return runStep(deps, tenantId, terminationId, 'credentials', async (agentId) => {
    const r = await deps.credentials.revokeAgentCredentials(tenantId, agentId);
    return { outcome: 'revoked', revoked: r.revoked, credentials: r.credentials ?? [] };
  });
}

// ------------------------------------------------------------------ step 4: platform kill
export function stepPlatform(
  deps: StepContext & { inventory: InventoryStore; platforms: PlatformKillRegistry },
  tenantId: string,
  terminationId: string,
): Promise<Termination> {
  return runStep(
    deps,
    tenantId,
    terminationId,
    'platform',
    async (agentId, t) => {
      const rec = await deps.inventory.get(tenantId, agentId);
      if (!rec) return { outcome: 'missing' };
      const adapter = await deps.platforms.adapterFor(tenantId, rec.platform);
      if (!adapter) return { outcome: 'no_kill_command', platform: rec.platform };
      try {
        const r = await adapter.kill(rec, { terminationId, reason: t.reason });
        return {
          outcome: r.outcome,
          platform: rec.platform,
          adapter: adapter.name,
          ...(r.detail ? { detail: r.detail } : {}),
        };
      } catch (e) {
        return {
          outcome: 'kill_failed',
          ok: false,
          platform: rec.platform,
          adapter: adapter.name,
          error: describeError(e),
        };
      }
    },
    { errorClass: PlatformKillError },
  );
}

// ------------------------------------------------------------------ step 5: drain
export function stepDrain(
  deps: StepContext & { drainer: ApprovalDrainer },
  tenantId: string,
  terminationId: string,
): Promise<Termination> {
  return runStep(deps, tenantId, terminationId, 'drain', async (agentId, t) => {
    const r = await deps.drainer.cancelPendingForAgent(
      tenantId,
      agentId,
      `agent terminated (${t.termination_id}): ${t.reason}`.slice(0, 500),
    );
    return { outcome: 'drained', cancelled: r.cancelled, ...(r.ids ? { cancelled_ids: [...r.ids] } : {}) };
  });
}

// ------------------------------------------------------------------ step 6: audit event
export function stepAudit(
  deps: StepContext & { inventory: InventoryStore; audit: AuditSink; events: EventSink },
  tenantId: string,
  terminationId: string,
): Promise<Termination> {
  return runStep(
    deps,
    tenantId,
    terminationId,
    'audit',
    async (agentId, t) => {
      const rec = await deps.inventory.get(tenantId, agentId);
      const occurredAt = deps.clock.now().toISOString();
      const { event_id } = await deps.audit.record({
        tenant_id: tenantId,
        event_type: 'agent.terminated',
        agent_id: agentId,
        ...(rec ? { principal_spiffe_id: rec.spiffe_id } : {}),
        action: 'killswitch:agent:terminate',
        target: agentId,
        decision: 'terminated',
        occurred_at: occurredAt,
        correlation_id: t.correlation_id,
        trace_id: t.trace_id,
        payload: {
          termination_id: t.termination_id,
          scope: t.scope,
          target_id: t.target_id,
          reason: t.reason,
          initiated_by: t.initiated_by,
          ...(t.confirmed_by ? { confirmed_by: t.confirmed_by } : {}),
          initiated_at: t.initiated_at,
        },
      });
      const announced: OutboxEntry = {
        detailType: 'agent.terminated',
        detail: {
          tenant_id: tenantId,
          correlation_id: t.correlation_id,
          trace_id: t.trace_id,
          // Deterministic: a retried step commits the same event id, consumers de-duplicate.
          event_id: `${t.termination_id}.${agentId}.terminated`,
          agent_id: agentId,
          termination_id: t.termination_id,
          ...(rec ? { spiffe_id: rec.spiffe_id, platform: rec.platform } : {}),
          reason: t.reason,
          initiated_by: t.initiated_by,
          audit_event_id: event_id,
        },
      };
      // committed with the step's outcome (runStep), so a bus outage does not fail or lose it
      return { outcome: 'recorded', audit_event_id: event_id, events: [announced] };
    },
    { events: deps.events },
  );
}

// ------------------------------------------------------------------ step 7: exit attestation
export interface AttestationStepDeps extends StepContext {
  readonly inventory: InventoryStore;
  readonly activity: ActivityReader;
  readonly signer: Signer;
  readonly attestations: AttestationWriter;
  /** How far back action counts go (seed: 90 days). */
  readonly lookbackDays?: number;
}

/** Builds the exit attestation for every agent of the termination, signs it and writes it. */
export async function stepAttestation(
  deps: AttestationStepDeps,
  tenantId: string,
  terminationId: string,
): Promise<{ url: string }> {
  const t = await deps.store.get(tenantId, terminationId);
  if (!t) throw new NotFoundError(`termination ${terminationId} not found`);
  try {
    const until = deps.clock.now();
    const since = new Date(until.getTime() - (deps.lookbackDays ?? 90) * 86_400_000);
    const agents = await mapLimit(t.agent_ids, 8, async (agentId) => {
      const [history, activity] = await Promise.all([
        deps.inventory.history(tenantId, agentId),
        deps.activity.summarize(tenantId, agentId, since, until),
      ]);
      return { agentId, history, activity };
    });
    const head = await deps.activity.chainHead(tenantId);
    const doc = buildAttestation({
      termination: t,
      agents,
      chainHead: head,
      generatedAt: until.toISOString(),
      since: since.toISOString(),
    });
    const files = await signAttestation(doc, deps.signer, tenantId);
    const url = await deps.attestations.write(tenantId, terminationId, files);
    await deps.store.setAttestation(tenantId, terminationId, url);
    await deps.store.endStep(tenantId, terminationId, 'attestation', {
      status: 'ok',
      at: deps.clock.now().toISOString(),
      detail: { url, agents: t.agent_ids.length },
      attempt: true,
    });
    return { url };
  } catch (e) {
    await deps.store.endStep(tenantId, terminationId, 'attestation', {
      status: 'pending',
      at: deps.clock.now().toISOString(),
      error: describeError(e),
      attempt: true,
    });
    throw e;
  }
}

// ------------------------------------------------------------------ bookkeeping
/** Called by the state machine's Catch after a best-effort step exhausted its retries. */
export async function recordStepFailure(
  deps: StepContext,
  tenantId: string,
  terminationId: string,
  step: StepName,
  error: { Error?: string; Cause?: unknown } | undefined,
): Promise<void> {
  const cause = typeof error?.Cause === 'string' ? error.Cause : JSON.stringify(error?.Cause ?? '');
  await deps.store.endStep(tenantId, terminationId, step, {
    status: 'failed',
    at: deps.clock.now().toISOString(),
    error: `${error?.Error ?? 'Error'}: ${parseCause(cause)}`.slice(0, 400),
  });
}

/** Lambda errors arrive as a JSON Cause {errorType, errorMessage}; keep just the message. */
function parseCause(cause: string): string {
  try {
    const c = JSON.parse(cause) as { errorMessage?: string };
    if (c && typeof c === 'object' && typeof c.errorMessage === 'string') return c.errorMessage;
  } catch {
    /* not JSON */
  }
  return cause;
}

/** What finalize re-reads to prove every target agent is stopped (F5). */
export interface TargetCheck {
  readonly inventory: Pick<InventoryStore, 'get'>;
  readonly revocationList: { get(tenantId: string, agentId: string, now: Date): Promise<unknown> };
}

/**
 * Target agents (its own and those another termination holds) that are not both terminated in
 * the inventory and on the revocation list. Agents missing from the inventory count as stopped
 * once they are on the list.
 */
export async function unstoppedTargets(deps: TargetCheck & { clock: Clock }, t: Termination): Promise<string[]> {
  const targets = [...new Set([...t.agent_ids, ...(t.already_terminating ?? []).map((x) => x.agent_id)])];
  const bad: string[] = [];
  await mapLimit(targets, 16, async (agentId) => {
    const [rec, entry] = await Promise.all([
      deps.inventory.get(t.tenant_id, agentId),
      deps.revocationList.get(t.tenant_id, agentId, deps.clock.now()),
    ]);
    if (!entry || (rec && rec.status !== 'terminated')) bad.push(agentId);
  });
  return bad.sort();
}

/**
 * Last state: decides complete / partial_failure and announces it once. With `targets`, it never
 * reports `complete` while a target agent is not terminated and revoked (F5): that is a
 * `partial_failure` naming the agents.
 */
export async function finalizeTermination(
  deps: StepContext & { events: EventSink; targets?: TargetCheck },
  tenantId: string,
  terminationId: string,
): Promise<{ status: TerminationStatus; unstopped?: string[] }> {
  const t = await deps.store.get(tenantId, terminationId);
  if (!t) throw new NotFoundError(`termination ${terminationId} not found`);
  let status = finalStatus(t.steps);
  const unstopped = deps.targets ? await unstoppedTargets({ ...deps.targets, clock: deps.clock }, t) : [];
  if (unstopped.length) {
    status = 'partial_failure';
    await deps.store.endStep(tenantId, terminationId, 'revocation', {
      status: 'failed',
      at: deps.clock.now().toISOString(),
      error: `not terminated and revoked at the end: ${unstopped.join(', ')}`.slice(0, 400),
    });
  }
  const completed: OutboxEntry = {
    detailType: 'agent.terminated.completed',
    detail: {
      tenant_id: tenantId,
      correlation_id: t.correlation_id,
      trace_id: t.trace_id,
      event_id: `${terminationId}.completed`,
      termination_id: terminationId,
      scope: t.scope,
      agent_ids: [...t.agent_ids],
      status,
      failed_steps: [
        ...new Set([
          ...t.steps.filter((s) => s.status === 'failed').map((s) => s.name),
          ...(unstopped.length ? ['revocation'] : []),
        ]),
      ],
      ...(unstopped.length ? { unstopped_agent_ids: unstopped } : {}),
      ...(t.attestation_url ? { attestation_url: t.attestation_url } : {}),
    },
  };
  // Announced once, with the final status (a retried finalize finds it final and commits nothing).
  if (await deps.store.finish(tenantId, terminationId, status, deps.clock.now().toISOString(), [completed]))
    await deps.events.flush([completed]);
  return { status, ...(unstopped.length ? { unstopped } : {}) };
}
