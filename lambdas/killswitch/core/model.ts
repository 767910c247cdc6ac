/**
 * C6 kill switch: the Termination record and its saga steps (seed C6.1).
 *
 * Steps 1–2 (`inventory`, `revocation`) are fail-closed and never compensated: the saga fails if
 * they fail. Steps 3–7 are best-effort: retried with backoff, then recorded as `failed`, which makes
 * the termination `partial_failure` — the revocation stays in force either way.
 */
export const STEP_NAMES = [
  'inventory',
  'revocation',
  'credentials',
  'platform',
  'drain',
  'audit',
  'attestation',
] as const;
export type StepName = (typeof STEP_NAMES)[number];
/** Steps that may end `failed` without failing the saga (3–7). */
export const BEST_EFFORT_STEPS: readonly StepName[] = ['credentials', 'platform', 'drain', 'audit', 'attestation'];
/** Steps that must succeed before anything else runs (1–2). */
export const FAIL_CLOSED_STEPS: readonly StepName[] = ['inventory', 'revocation'];

export type StepStatus = 'pending' | 'ok' | 'failed' | 'skipped';
export type TerminationStatus = 'in_flight' | 'complete' | 'partial_failure';
export type TerminationScope = 'agent' | 'cohort' | 'org';

export interface TerminationStep {
  readonly name: StepName;
  readonly status: StepStatus;
  readonly attempts: number;
  /** Last error (name: message) — never internal detail beyond the error name and a short message. */
  readonly error?: string;
  /** When the step last changed. */
  readonly at?: string;
  /** Step-level outcome (counts, URLs). */
  readonly detail?: Record<string, unknown>;
  /** Per-agent outcomes, by agent id. */
  readonly results?: Readonly<
    Record<string, { outcome: string; ok: boolean; at: string; error?: string; [k: string]: unknown }>
  >;
}

export interface Termination {
  readonly termination_id: string;
  readonly tenant_id: string;
  readonly scope: TerminationScope;
  /** Agent id, cohort id or tenant id, by scope. */
  readonly target_id: string;
  /** The agents this termination covers (claimed by it). */
  readonly agent_ids: readonly string[];
  /** Agents in scope that another termination already covers. */
  readonly already_terminating?: readonly { agent_id: string; termination_id: string }[];
  readonly reason: string;
  /** Subject of the admin who initiated (and, for an emergency stop, who confirmed). */
  readonly initiated_by: string;
  readonly confirmed_by?: string;
  readonly initiated_at: string;
  readonly status: TerminationStatus;
  readonly steps: readonly TerminationStep[];
  readonly completed_at?: string;
  readonly attestation_url?: string;
  readonly execution_arn?: string;
  readonly correlation_id: string;
  readonly trace_id: string;
}

/** The state machine input: small on purpose; handlers load the record. */
export interface SagaInput {
  readonly termination_id: string;
  readonly tenant_id: string;
}

export function initialSteps(): TerminationStep[] {
  return STEP_NAMES.map((name) => ({ name, status: 'pending', attempts: 0 }));
}

/** Final status once the saga has run every step: any failed step makes it a partial failure. */
export function finalStatus(steps: readonly TerminationStep[]): TerminationStatus {
  return steps.some((s) => s.status === 'failed') ? 'partial_failure' : 'complete';
}

/** Public view (GET /v1/terminations/{id}). */
export function publicView(t: Termination): Record<string, unknown> {
  return {
    termination_id: t.termination_id,
    scope: t.scope,
    target_id: t.target_id,
    agent_ids: t.agent_ids,
    ...(t.already_terminating?.length ? { already_terminating: t.already_terminating } : {}),
    reason: t.reason,
    initiated_by: t.initiated_by,
    ...(t.confirmed_by ? { confirmed_by: t.confirmed_by } : {}),
    initiated_at: t.initiated_at,
    status: t.status,
    steps: t.steps,
    ...(t.completed_at ? { completed_at: t.completed_at } : {}),
    ...(t.attestation_url ? { attestation_url: t.attestation_url } : {}),
    correlation_id: t.correlation_id,
  };
}

/** Short, non-sensitive description of a failure for the step record. */
export function describeError(e: unknown): string {
  const err = e as { name?: string; message?: string };
  const name = err?.name ?? 'Error';
  const msg = (err?.message ?? String(e)).replace(/\s+/g, ' ').slice(0, 300);
  return `${name}: ${msg}`;
}
