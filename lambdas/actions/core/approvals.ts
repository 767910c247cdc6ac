import { ConflictError, DependencyError, ForbiddenError, NotFoundError } from '../../shared/errors.js';
import type { ApprovalStatus } from '../schemas.js';
import { routedTo } from './channels.js';
import type { ActionContext, ActionServiceDeps, Reader } from './context.js';
import { TRANSIENT_FORBIDS, decideSafely, summarise } from './decision.js';
import type { ActionDrain } from './drain.js';
import type { ActionEffects } from './effects.js';
import type { ActionExecution } from './execution.js';
import { inactiveReason } from './guards.js';
import {
  FINAL_ACTION_STATUSES,
  type ActionError,
  type ActionRecord,
  type ActionStatus,
  type ApprovalMetadata,
  type ApprovalRecord,
  type Approver,
} from './model.js';

const isFinal = (s: ActionStatus): boolean => FINAL_ACTION_STATUSES.includes(s);

/**
 * Approvals: reading actions and approvals with lazy expiry, a human's decision (deny, or approve
 * and run), and the sweeper's expiry of overdue approvals.
 */
export class ActionApprovals {
  private readonly d: ActionServiceDeps;
  private readonly fx: ActionEffects;
  private readonly elapsedMs: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    c: ActionContext,
    private readonly drain: ActionDrain,
    private readonly exec: ActionExecution,
  ) {
    this.d = c.d;
    this.fx = c.fx;
    this.elapsedMs = c.elapsedMs;
    this.sleep = c.sleep;
  }

  /** `GET /v1/actions/{id}?wait=N`: long-polls up to `waitS` for a final status. */
  async get(reader: Reader, actionId: string, waitS = 0): Promise<ActionRecord> {
    // The poll budget is elapsed time (a real HTTP long-poll); deadlines use the injected clock.
    const until = this.elapsedMs() + waitS * 1000;
    for (;;) {
      let a = await this.d.store.getAction(reader.tenantId, actionId);
      if (!a || (reader.agentId && a.agent_id !== reader.agentId))
        throw new NotFoundError(`action ${actionId} not found`);
      if (a.status === 'pending_approval' && a.expires_at && Date.parse(a.expires_at) <= this.d.clock.now().getTime()) {
        await this.expireById(a.tenant_id, a.approval_id!);
        a = (await this.d.store.getAction(reader.tenantId, actionId)) ?? a;
        if (a.status === 'pending_approval') {
          // its approval was resolved but the action never followed (a crashed decider): close it, never run it
          await this.d.store.transition(a.tenant_id, a.action_id, ['pending_approval'], 'expired', {
            error: {
              code: 'approval_interrupted',
              message: 'the approval was not completed before its deadline',
              retryable: false,
            },
            updated_at: this.d.clock.now().toISOString(),
          });
          a = (await this.d.store.getAction(reader.tenantId, actionId)) ?? a;
        }
      }
      if (isFinal(a.status) || this.elapsedMs() >= until) return a;
      await this.sleep(this.d.pollIntervalMs ?? 250);
    }
  }

  async getApproval(tenantId: string, approvalId: string): Promise<ApprovalRecord> {
    const a = await this.d.store.getApproval(tenantId, approvalId);
    if (!a) throw new NotFoundError(`approval ${approvalId} not found`);
    if (a.status === 'pending' && Date.parse(a.expires_at) <= this.d.clock.now().getTime()) {
      await this.expire(a);
      return (await this.d.store.getApproval(tenantId, approvalId)) ?? a;
    }
    return a;
  }

  /** `GET /v1/approvals`: expires overdue pending approvals on the way (lazy expiry). */
  async listApprovals(
    tenantId: string,
    opts: { status?: ApprovalStatus; limit?: number; since?: string } = {},
  ): Promise<ApprovalRecord[]> {
    const items = await this.d.store.listApprovals(tenantId, opts);
    const now = this.d.clock.now().getTime();
    const out: ApprovalRecord[] = [];
    for (const a of items) {
      if (a.status === 'pending' && Date.parse(a.expires_at) <= now) {
        await this.expire(a);
        if (opts.status === 'pending') continue;
        out.push({ ...a, status: 'expired' });
      } else out.push(a);
    }
    return out;
  }

  /**
   * Records a human decision. Approve runs the connector (once, however many approvers race);
   * a decision after expiry, a deny or another decision is a 409.
   */
  async decide(
    tenantId: string,
    approvalId: string,
    approver: Approver,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<{ approval: ApprovalRecord; action: ActionRecord }> {
    const approval = await this.d.store.getApproval(tenantId, approvalId);
    if (!approval) throw new NotFoundError(`approval ${approvalId} not found`);
    const now = this.d.clock.now();
    if (approval.status === 'pending' && Date.parse(approval.expires_at) <= now.getTime()) {
      await this.expire(approval);
      throw new ConflictError('the approval has expired', { extensions: { approval_status: 'expired' } });
    }
    if (approval.status !== 'pending') {
      throw new ConflictError(`the approval is no longer pending (${approval.status})`, {
        extensions: { approval_status: approval.status },
      });
    }
    if (approver.principalType === 'agent' || (approver.agentId && approver.agentId === approval.agent_id)) {
      throw new ForbiddenError('an agent never approves its own action');
    }
    if (!routedTo(approval.channel, approver.via)) {
      throw new ForbiddenError(
        `this approval was not sent to ${approver.via}; decide it on the channel it was routed to or through the API`,
      );
    }
    const at = now.toISOString();
    const action = await this.d.store.getAction(tenantId, approval.action_id);
    if (!action) throw new NotFoundError(`approval ${approvalId} not found`);

    if (decision === 'deny') {
      const ev = this.fx.event('decision.denied', action, {
        approval_id: approvalId,
        approver: approver.display,
        decided_at: at,
      });
      const ok = await this.drain.settle(
        approval,
        { status: 'denied', at, decided_by: approver.display, decided_via: approver.via, decision_reason: reason },
        'rejected',
        { error: { code: 'approval_denied', message: 'a human denied this action', retryable: false } },
        [ev],
      );
      if (!ok) throw await this.conflict(tenantId, approvalId);
      const resolved = (await this.d.store.getApproval(tenantId, approvalId))!;
      await this.fx.auditQuietly(
        this.fx.auditInput(action, 'decision.denied', 'deny', {
          approval_id: approvalId,
          approver: approver.display,
          reason,
          channel: approver.via,
        }),
      );
      await this.d.events.flush([ev]);
      await this.fx.notifyResolved(resolved);
      return { approval: resolved, action: (await this.d.store.getAction(tenantId, action.action_id)) ?? action };
    }

    if (approval.separation_of_duties) {
      if (!approval.owner_sub && !approval.owner_email) {
        throw new ForbiddenError(
          'separation of duties is required and the agent owner is unknown, so no approval can be verified',
        );
      }
      const same =
        (approval.owner_sub && approver.id === approval.owner_sub) ||
        (approval.owner_email && approver.email && approver.email.toLowerCase() === approval.owner_email.toLowerCase());
      if (same) throw new ForbiddenError("separation of duties: the agent's owner may not approve its action");
      // A channel identity (Slack user, webhook name) without an e-mail cannot be compared with the owner.
      if (approver.via !== 'api' && !approver.email) {
        throw new ForbiddenError(
          'separation of duties is required and this approver cannot be matched against the owner; approve through the API or a channel that knows the approver’s e-mail',
        );
      }
    }

    // A revoked or terminated agent's approval is cancelled, never executed; an unreadable
    // revocation list refuses the decision for now and changes nothing.
    const rev = await this.d.revocation.status(tenantId, approval.agent_id);
    if (rev === 'unknown') throw new DependencyError('the revocation list is unavailable; the approval stays pending');
    if (rev === 'revoked') {
      await this.drain.cancel(approval, action, 'agent revoked');
      throw new ConflictError('the agent has been revoked; the action was cancelled', {
        extensions: { approval_status: 'cancelled' },
      });
    }
    // F21b: the inventory status, not just the revocation list (a suspended or terminated agent's action never runs).
    const info = await this.d.agents.get(tenantId, approval.agent_id).catch((e: unknown) => {
      throw new DependencyError('the agent inventory is unavailable; the approval stays pending', { cause: e });
    });
    const inactive = inactiveReason(info);
    if (inactive) {
      await this.drain.cancel(approval, action, inactive, 'agent_inactive');
      throw new ConflictError(`${inactive}; the action was cancelled`, {
        extensions: { approval_status: 'cancelled' },
      });
    }
    // F30: re-decided against the live bundle; a forbid promoted while this was pending wins.
    const live = await decideSafely(this.d, { tenantId, agentId: approval.agent_id }, approval.action, {
      connector: approval.connector,
      operation: approval.operation,
      params: approval.params,
    });
    if (live.effect !== 'permit') {
      if (live.determining_policies.length === 0 && live.errors.some((e) => TRANSIENT_FORBIDS.includes(e))) {
        throw new DependencyError('the policy could not be evaluated; the approval stays pending');
      }
      await this.drain.cancel(approval, action, 'the live policy now forbids this action', 'policy_forbids');
      throw new ConflictError('the live policy now forbids this action; it was cancelled', {
        extensions: { approval_status: 'cancelled', decision: summarise(live) },
      });
    }

    const metadata: ApprovalMetadata = {
      approval_id: approvalId,
      approver: approver.display,
      decided_at: at,
      reason,
      policy: approval.policy,
      channel: approver.via,
      time_to_decision_ms: now.getTime() - Date.parse(approval.created_at),
    };
    const approved: ActionRecord = {
      ...action,
      status: 'pending_execution',
      approval_metadata: metadata,
      updated_at: at,
    };
    const approvedEvent = this.fx.event('decision.approved', approved, {
      approval_id: approvalId,
      approver: approver.display,
      decided_at: at,
      reason,
      policy: approval.policy,
    });
    const settled = await this.d.store.resolveApproval(
      approval,
      { status: 'approved', at, decided_by: approver.display, decided_via: approver.via, decision_reason: reason },
      'pending_execution',
      { approval_metadata: metadata },
      [approvedEvent],
    );
    if (settled === 'conflict') throw await this.conflict(tenantId, approvalId);
    if (settled === 'action_mismatch') {
      // The approval was spent on what the approver saw; the action no longer matches it.
      await this.d.events.flush([approvedEvent]);
      const error: ActionError = {
        code: 'binding_mismatch',
        message: 'the action no longer matches what was approved; nothing was executed',
        retryable: false,
      };
      const ev = this.fx.event('operation.failed', action, { error_code: error.code, approval_id: approvalId });
      if (
        await this.d.store.transition(
          tenantId,
          action.action_id,
          ['pending_approval'],
          'failed',
          { error, approval_metadata: metadata, updated_at: at },
          [ev],
        )
      ) {
        await this.fx.auditQuietly(
          this.fx.auditInput(action, 'operation.failed', 'failed', { error_code: error.code, approval_id: approvalId }),
        );
        await this.d.events.flush([ev]);
      }
      return {
        approval: (await this.d.store.getApproval(tenantId, approvalId))!,
        action: (await this.d.store.getAction(tenantId, action.action_id)) ?? action,
      };
    }
    try {
      await this.d.audit.record(this.fx.auditInput(approved, 'decision.approved', 'approve', { ...metadata }));
    } catch (e) {
      await this.d.events.flush([approvedEvent]);
      await this.exec.failBeforeRun(
        approved,
        {
          code: 'audit_unavailable',
          message: 'the approval could not be audited, so the action was not executed',
          retryable: false,
        },
        e,
      );
      throw new DependencyError('the audit log is unavailable; the action was not executed', { cause: e });
    }
    await this.d.events.flush([approvedEvent]);
    const resolved = (await this.d.store.getApproval(tenantId, approvalId))!;
    await this.fx.notifyResolved(resolved);
    // Budget: a held action reserved nothing while it waited; it reserves now, once this approver
    // holds the approval and just before it runs (an `over: hitl` budget was the approver's to
    // overrule and only counts; an `over: forbid` one still refuses, and nothing runs).
    let reserved = false;
    if (this.d.spend) {
      const r = await this.d.spend
        .reserve(tenantId, approval.agent_id, approval.action, action.action_id, {
          budgets: live.budgets ?? [],
          approved: true,
        })
        .then(
          (x) => x,
          (e: unknown) => e as Error,
        );
      if (r instanceof Error || !r.ok) {
        const error: ActionError =
          r instanceof Error
            ? {
                code: 'budget_unavailable',
                message: 'the budget ledger could not be read; nothing was executed',
                retryable: true,
              }
            : {
                code: 'budget_exceeded',
                message: 'the budget was spent before the approved action could run; nothing was executed',
                retryable: false,
              };
        await this.exec.failBeforeRun(approved, error, r instanceof Error ? r : undefined);
        const failed = (await this.d.store.getAction(tenantId, action.action_id)) ?? approved;
        await this.fx.auditQuietly(
          this.fx.auditInput(failed, 'operation.failed', 'failed', { error_code: error.code, approval_id: approvalId }),
        );
        return { approval: resolved, action: failed };
      }
      reserved = r.held;
    }
    const done = await this.exec.runExecution(approved);
    if (reserved) await this.exec.settleSpend(done);
    return { approval: resolved, action: done };
  }

  /** Expires overdue pending approvals (the scheduled sweeper). Returns how many it expired. */
  async sweepExpired(limit = 100): Promise<number> {
    const due = await this.d.store.dueApprovals(this.d.clock.now().toISOString(), limit);
    let n = 0;
    for (const d of due) if (await this.expireById(d.tenant_id, d.approval_id)) n++;
    return n;
  }

  private async expireById(tenantId: string, approvalId: string): Promise<boolean> {
    const a = await this.d.store.getApproval(tenantId, approvalId);
    return a ? this.expire(a) : false;
  }

  private async expire(approval: ApprovalRecord): Promise<boolean> {
    const at = this.d.clock.now().toISOString();
    if (approval.status !== 'pending' || Date.parse(approval.expires_at) > Date.parse(at)) return false;
    const before = await this.d.store.getAction(approval.tenant_id, approval.action_id);
    const ev =
      before &&
      this.fx.event(
        'decision.expired',
        { ...before, status: 'expired', updated_at: at },
        { approval_id: approval.approval_id, expires_at: approval.expires_at },
      );
    const ok = await this.drain.settle(
      approval,
      { status: 'expired', at },
      'expired',
      {
        error: { code: 'approval_expired', message: 'no decision before the approval deadline', retryable: false },
      },
      ev ? [ev] : [],
    );
    if (!ok) return false;
    const action = await this.d.store.getAction(approval.tenant_id, approval.action_id);
    if (action)
      await this.fx.auditQuietly(
        this.fx.auditInput(action, 'decision.expired', 'expired', {
          approval_id: approval.approval_id,
          expires_at: approval.expires_at,
        }),
      );
    if (ev) await this.d.events.flush([ev]);
    await this.fx.notifyResolved({ ...approval, status: 'expired', decided_at: at });
    return true;
  }

  private async conflict(tenantId: string, approvalId: string): Promise<ConflictError> {
    const now = (await this.d.store.getApproval(tenantId, approvalId))?.status ?? 'unknown';
    return new ConflictError(`the approval is no longer pending (${now})`, { extensions: { approval_status: now } });
  }
}
