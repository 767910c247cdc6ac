import type { TraceContext } from '../../shared/trace.js';
import type { ApprovalStatus } from '../schemas.js';
import { ActionApprovals } from './approvals.js';
import type { ActionContext, ActionServiceDeps, AgentCaller, Reader, SubmitInput } from './context.js';
import { ActionDrain } from './drain.js';
import { ActionEffects } from './effects.js';
import { ActionExecution } from './execution.js';
import type { ActionRecord, ApprovalRecord, Approver, Connector } from './model.js';
import { canonicalParams } from './present.js';
import { ActionRecovery } from './recovery.js';
import { ActionSubmit, type SubmitOutcome } from './submit.js';

export type { ActionServiceDeps, AgentCaller, Reader, SubmitInput } from './context.js';
export { DEFAULT_HITL_TIMEOUT_S, type SubmitOutcome } from './submit.js';

/** What an agent or auditor sees of an action. Params are never echoed back. */
export function actionView(a: ActionRecord): Record<string, unknown> {
  return {
    action_id: a.action_id,
    status: a.status,
    connector: a.connector,
    operation: a.operation,
    agent_id: a.agent_id,
    correlation_id: a.correlation_id,
    trace_id: a.trace_id,
    decision: a.decision,
    ...(a.approval_id ? { approval_id: a.approval_id, expires_at: a.expires_at } : {}),
    ...(a.result !== undefined ? { result: a.result } : {}),
    ...(a.error ? { error: a.error } : {}),
    ...(a.approval_metadata ? { approval_metadata: a.approval_metadata } : {}),
    attempts: a.attempts,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** An approval as approvers read it: the full params in canonical order (method/path first), never cut (F11). */
export function approvalView(a: ApprovalRecord): Record<string, unknown> {
  const { binding_hash, params, ...rest } = a;
  return { ...rest, params: canonicalParams(params), binding_hash };
}

/**
 * Governed actions (`arx.execute`) and their approval gates.
 *
 * Durable pause: an approval is an item in the control table whose status moves
 * `pending → approved|denied|expired|cancelled` by conditional writes, with its action moving
 * `pending_approval → pending_execution → executing → executed|failed` the same way. The
 * conditional writes make 50 concurrent approvals run the connector once and make a retried
 * execution safe; the deadline (`expires_at`) is enforced lazily on every read/decision with the
 * injected clock and by a once-a-minute sweeper. This is equivalent to a Step Functions
 * `waitForTaskToken` pause but runs unchanged on moto (whose Step Functions cannot call Lambda
 * tasks) and in unit tests.
 *
 * @example
 * const svc = new ActionService(deps);
 * const out = await svc.submit({ tenantId, agentId }, { connector: 'okta', operation: 'users:read', params: {} }, trace);
 *
 * The facade over the capability's jobs, each in its own module: submission (`submit.ts`),
 * approvals and lazy expiry (`approvals.ts`), execution (`execution.ts`), recovery
 * (`recovery.ts`), the kill switch's drain (`drain.ts`) and the after-the-fact effects
 * (`effects.ts`).
 */
export class ActionService {
  private readonly drain: ActionDrain;
  private readonly execution: ActionExecution;
  private readonly submission: ActionSubmit;
  private readonly approvals: ActionApprovals;
  private readonly recovery: ActionRecovery;

  constructor(d: ActionServiceDeps) {
    const effects = new ActionEffects(d);
    const c: ActionContext = {
      d,
      fx: effects,
      sleep: d.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      elapsedMs: d.monotonicMs ?? (() => performance.now()),
    };
    this.drain = new ActionDrain({ store: d.store, clock: d.clock, effects });
    this.execution = new ActionExecution(c);
    this.submission = new ActionSubmit(c, this.execution);
    this.approvals = new ActionApprovals(c, this.drain, this.execution);
    this.recovery = new ActionRecovery(c, this.execution);
  }

  /** Validates the connector, operation and params (400 on any mismatch). */
  resolveOperation(
    connectorName: string,
    operation: string,
    params: unknown,
  ): { connector: Connector; params: Record<string, unknown> } {
    return this.submission.resolveOperation(connectorName, operation, params);
  }

  /** `POST /v1/actions`: decide, then deny, hold for approval, or run now. */
  /** `actionId`: the id to create the action under (an Idempotency-Key claim names it in advance). */
  submit(caller: AgentCaller, input: SubmitInput, trace: TraceContext, givenActionId?: string): Promise<SubmitOutcome> {
    return this.submission.submit(caller, input, trace, givenActionId);
  }

  /** `GET /v1/actions/{id}?wait=N`: long-polls up to `waitS` for a final status. */
  get(reader: Reader, actionId: string, waitS = 0): Promise<ActionRecord> {
    return this.approvals.get(reader, actionId, waitS);
  }

  getApproval(tenantId: string, approvalId: string): Promise<ApprovalRecord> {
    return this.approvals.getApproval(tenantId, approvalId);
  }

  /** `GET /v1/approvals`: expires overdue pending approvals on the way (lazy expiry). */
  listApprovals(
    tenantId: string,
    opts: { status?: ApprovalStatus; limit?: number; since?: string } = {},
  ): Promise<ApprovalRecord[]> {
    return this.approvals.listApprovals(tenantId, opts);
  }

  /**
   * Records a human decision. Approve runs the connector (once, however many approvers race);
   * a decision after expiry, a deny or another decision is a 409.
   */
  decide(
    tenantId: string,
    approvalId: string,
    approver: Approver,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<{ approval: ApprovalRecord; action: ActionRecord }> {
    return this.approvals.decide(tenantId, approvalId, approver, decision, reason);
  }

  /**
   * Runs a `pending_execution` action at most once: claims it by a conditional write, re-checks
   * the revocation list and the binding hash, calls the connector, records the outcome. Calling
   * it again (a retried Lambda, a second approver) never runs the connector a second time.
   */
  runExecution(action: ActionRecord): Promise<ActionRecord> {
    return this.execution.runExecution(action);
  }

  /** Expires overdue pending approvals (the scheduled sweeper). Returns how many it expired. */
  sweepExpired(limit = 100): Promise<number> {
    return this.approvals.sweepExpired(limit);
  }

  /** Recovery (run by the sweeper): see {@link ActionRecovery.recoverStalled}. */
  recoverStalled(
    opts: { pendingAfterMs?: number; executingAfterMs?: number; limit?: number } = {},
  ): Promise<{ resumed: number; failed: number }> {
    return this.recovery.recoverStalled(opts);
  }

  /**
   * Kill-switch hook: cancels the agent's pending approvals and refuses its approved-but-not-started
   * actions. Actions already executing cannot be recalled. Returns the number cancelled.
   */
  cancelPendingForAgent(tenantId: string, agentId: string, reason: string): Promise<number> {
    return this.drain.cancelPendingForAgent(tenantId, agentId, reason);
  }
}
