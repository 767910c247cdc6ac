import type { AgentRecord, RevocationEntry, TenantSigner } from '../../shared/ports.js';
import type { OutboxEntry } from '../../shared/events.js';
import type { StepName, StepStatus, Termination, TerminationStatus } from './model.js';

/** Port: where terminations, per-agent claims and the emergency-stop quorum live. */
export interface TerminationStore {
  /**
   * Stores a new termination and claims each of its agents (one active termination per agent).
   * Agents already claimed by another termination are returned and left out of the claim.
   */
  create(t: Termination): Promise<{ claimed: string[]; taken: { agent_id: string; termination_id: string }[] }>;
  get(tenantId: string, terminationId: string): Promise<Termination | null>;
  /** The termination that claimed `agentId`, if any. */
  claimOf(tenantId: string, agentId: string): Promise<string | null>;
  /** Rewrites the agent list after claiming (drops agents another termination took). */
  setAgents(
    tenantId: string,
    terminationId: string,
    agentIds: readonly string[],
    taken: readonly { agent_id: string; termination_id: string }[],
  ): Promise<void>;
  /** Counts an attempt of `step` (status stays/becomes pending). */
  beginStep(tenantId: string, terminationId: string, step: StepName, at: string): Promise<void>;
  /**
   * Records the outcome of `step` in one write: its status, last error, per-agent results and,
   * with `attempt`, one more attempt. `events` (by agent id, a few per agent) commit in the same
   * write as that agent's result (outbox), so a retry that skips the agent never loses them.
   */
  endStep(
    tenantId: string,
    terminationId: string,
    step: StepName,
    patch: StepPatch,
    events?: Readonly<Record<string, readonly OutboxEntry[]>>,
  ): Promise<void>;
  /** Records one agent's outcome of `step` (retries skip agents whose outcome is final). */
  recordAgentResult(
    tenantId: string,
    terminationId: string,
    step: StepName,
    agentId: string,
    result: AgentStepResult,
  ): Promise<void>;
  setExecution(tenantId: string, terminationId: string, executionArn: string): Promise<void>;
  setAttestation(tenantId: string, terminationId: string, url: string): Promise<void>;
  /** Sets the final status once (only from in_flight), with the outbox items of `events`; false (nothing written) when it was already final. */
  finish(
    tenantId: string,
    terminationId: string,
    status: TerminationStatus,
    at: string,
    events?: readonly OutboxEntry[],
  ): Promise<boolean>;

  /** Emergency-stop quorum: the pending request, if any (expired ones are returned too; callers check). */
  getQuorum(tenantId: string): Promise<QuorumRequest | null>;
  /** Stores a first request; false when an unexpired one exists (`now` decides expiry). */
  putQuorum(q: QuorumRequest, now: Date): Promise<boolean>;
  /** Consumes the pending request exactly once; false when someone else consumed it. */
  consumeQuorum(tenantId: string, requestId: string): Promise<boolean>;
}

export interface StepPatch {
  readonly status: StepStatus;
  readonly at: string;
  readonly error?: string;
  readonly detail?: Record<string, unknown>;
  readonly results?: Readonly<Record<string, AgentStepResult>>;
  /** Count this as one more attempt of the step. */
  readonly attempt?: boolean;
}

/** One agent's outcome of one step. */
export interface AgentStepResult {
  readonly outcome: string;
  readonly ok: boolean;
  readonly at: string;
  readonly error?: string;
  readonly [key: string]: unknown;
}

export interface QuorumRequest {
  readonly tenant_id: string;
  readonly request_id: string;
  readonly requested_by: string;
  readonly reason: string;
  readonly requested_at: string;
  readonly expires_at: string;
}

/** Port: starts the termination saga. Execution name = termination id. */
export interface SagaStarter {
  /** Returns the execution ARN; throws SagaAlreadyStartedError when an execution of that name exists. */
  start(terminationId: string, input: { termination_id: string; tenant_id: string }): Promise<string>;
}

export class SagaAlreadyStartedError extends Error {
  override readonly name = 'SagaAlreadyStartedError';
}

/** Port: the distributed revocation list (lambdas/shared/revocation.ts DynamoRevocationList). */
export interface RevocationWriter {
  revoke(entry: RevocationEntry): Promise<void>;
}

/** Port (identity, C2.2): cascade-revoke every credential binding and cached credential of an agent. */
export interface CredentialRevoker {
  revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocation>;
}
export interface CredentialRevocation {
  /** How many bindings / cached credentials were revoked. */
  readonly revoked: number;
  /** Last credential state, for the exit attestation (ids, kinds, expiry — never secrets). */
  readonly credentials?: readonly Record<string, unknown>[];
}

/** Port: one platform's kill command (Bedrock, generic HTTP, …). Must be idempotent. */
export interface PlatformKillAdapter {
  readonly name: string;
  kill(agent: AgentRecord, ctx: { terminationId: string; reason: string }): Promise<PlatformKillResult>;
}
export interface PlatformKillResult {
  readonly outcome: 'killed' | 'already_stopped';
  readonly detail?: Record<string, unknown>;
}
/** Resolves the adapter for an agent's platform for a tenant; null = the platform has no kill command. */
export interface PlatformKillRegistry {
  adapterFor(tenantId: string, platform: string): Promise<PlatformKillAdapter | null>;
}

/** Port: the tenant signer (shared TenantSigner: the tenant's own key, ES256, R‖S). */
export type Signer = Pick<TenantSigner, 'sign'>;

/** Port: writes an exit attestation to the tenant's audit destination; returns its URL. */
export interface AttestationWriter {
  write(
    tenantId: string,
    terminationId: string,
    files: readonly { name: string; body: Uint8Array; contentType: string }[],
  ): Promise<string>;
}
