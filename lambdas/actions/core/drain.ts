import type { Clock } from '../../shared/clock.js';
import type { OutboxEntry } from '../../shared/events.js';
import type { ActionEffects } from './effects.js';
import type { ActionError, ActionRecord, ActionStatus, ActionStore, ApprovalChange, ApprovalRecord } from './model.js';

export interface ActionDrainDeps {
  readonly store: ActionStore;
  readonly clock: Clock;
  readonly effects: ActionEffects;
}

/**
 * Resolving approvals to a non-executing outcome, and the kill switch's drain of an agent. Needs
 * only the action store and the effects (audit, events, optional channel notice): no decision
 * point, connectors, secrets or credentials, so the drain step is built without them.
 */
export class ActionDrain {
  constructor(private readonly d: ActionDrainDeps) {}

  /**
   * Kill-switch hook: cancels the agent's pending approvals (they can no longer be approved) and
   * refuses its approved-but-not-started actions. Idempotent; returns how many it cancelled.
   */
  async cancelPendingForAgent(tenantId: string, agentId: string, reason: string): Promise<number> {
    const actions = await this.d.store.agentActions(tenantId, agentId, ['pending_approval', 'pending_execution']);
    let n = 0;
    for (const a of actions) {
      if (a.status === 'pending_approval' && a.approval_id) {
        const approval = await this.d.store.getApproval(tenantId, a.approval_id);
        if (approval && approval.status === 'pending' && (await this.cancel(approval, a, reason))) n++;
      } else if (a.status === 'pending_execution') {
        const at = this.d.clock.now().toISOString();
        const ev = this.d.effects.event('operation.failed', a, { error_code: 'agent_revoked', reason });
        const ok = await this.d.store.transition(
          tenantId,
          a.action_id,
          ['pending_execution'],
          'cancelled',
          {
            error: { code: 'agent_revoked', message: reason, retryable: false },
            updated_at: at,
          },
          [ev],
        );
        if (ok) {
          n++;
          await this.d.effects.flush([ev]);
        }
      }
    }
    return n;
  }

  async cancel(
    approval: ApprovalRecord,
    action: ActionRecord,
    reason: string,
    code = 'agent_revoked',
  ): Promise<boolean> {
    const at = this.d.clock.now().toISOString();
    const fx = this.d.effects;
    const ev = fx.event('decision.denied', action, { approval_id: approval.approval_id, cancelled: true, reason });
    const ok = await this.settle(
      approval,
      { status: 'cancelled', at, decision_reason: reason },
      'cancelled',
      {
        error: { code, message: reason, retryable: false },
      },
      [ev],
    );
    if (ok) {
      await fx.auditQuietly(
        fx.auditInput(action, 'decision.denied', 'cancelled', {
          approval_id: approval.approval_id,
          reason,
          cancelled: true,
        }),
      );
      await fx.flush([ev]);
      await fx.notifyResolved({ ...approval, status: 'cancelled', decided_at: at });
    }
    return ok;
  }

  /**
   * Resolves an approval to a non-executing outcome (deny, expire, cancel). When the action no
   * longer matches the approval it is still moved out of `pending_approval`: nothing will run it.
   * `events` commit with the approval's change.
   */
  async settle(
    approval: ApprovalRecord,
    change: ApprovalChange,
    actionTo: ActionStatus,
    patch: { error: ActionError },
    events: readonly OutboxEntry[],
  ): Promise<boolean> {
    const r = await this.d.store.resolveApproval(approval, change, actionTo, patch, events);
    if (r === 'conflict') return false;
    if (r === 'action_mismatch') {
      await this.d.store.transition(approval.tenant_id, approval.action_id, ['pending_approval'], actionTo, {
        ...patch,
        updated_at: change.at,
      });
    }
    return true;
  }
}
