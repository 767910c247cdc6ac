import type { ActionContext, ActionServiceDeps } from './context.js';
import type { ActionEffects } from './effects.js';
import type { ActionExecution } from './execution.js';
import type { ActionError } from './model.js';

/** Recovery of actions left in flight by a crashed caller or executor (run by the sweeper). */
export class ActionRecovery {
  private readonly d: ActionServiceDeps;
  private readonly fx: ActionEffects;

  constructor(
    c: ActionContext,
    private readonly exec: ActionExecution,
  ) {
    this.d = c.d;
    this.fx = c.fx;
  }

  /**
   * Recovery (run by the sweeper): an approved action left in `pending_execution` by a crashed
   * decider is executed (the claim still makes it run once); an autonomous one is failed as
   * retryable instead, because its agent already got an error and may have resubmitted. An action
   * stuck in `executing` past `executingAfterMs` is failed with `outcome_unknown`: the connector
   * may or may not have acted, so it is never re-run automatically.
   */
  async recoverStalled(
    opts: { pendingAfterMs?: number; executingAfterMs?: number; limit?: number } = {},
  ): Promise<{ resumed: number; failed: number }> {
    const now = this.d.clock.now().getTime();
    const pendingAfter = opts.pendingAfterMs ?? 60_000;
    const executingAfter = opts.executingAfterMs ?? 15 * 60_000;
    const candidates = await this.d.store.inflightActions(
      new Date(now - Math.min(pendingAfter, executingAfter)).toISOString(),
      opts.limit ?? 100,
    );
    let resumed = 0;
    let failed = 0;
    for (const c of candidates) {
      const a = await this.d.store.getAction(c.tenant_id, c.action_id);
      if (!a) continue;
      const age = now - Date.parse(a.updated_at);
      const at = new Date(now).toISOString();
      if (a.status === 'pending_execution' && age >= pendingAfter) {
        if (a.approval_metadata) {
          await this.exec.settleSpend(await this.exec.runExecution(a));
          resumed++;
        } else {
          const error: ActionError = {
            code: 'interrupted',
            message: 'the request was interrupted before the connector ran; submit it again',
            retryable: true,
          };
          const ev = this.fx.event('operation.failed', a, { error_code: error.code, retryable: true });
          if (
            await this.d.store.transition(
              a.tenant_id,
              a.action_id,
              ['pending_execution'],
              'failed',
              { error, updated_at: at },
              [ev],
            )
          ) {
            failed++;
            await this.exec.settleSpend(a, 'released');
            await this.d.events.flush([ev]);
          }
        }
      } else if (a.status === 'executing' && age >= executingAfter) {
        const error: ActionError = {
          code: 'outcome_unknown',
          message: 'the executor stopped while calling the connector; check the target before resubmitting',
          retryable: false,
        };
        const ev = this.fx.event('operation.failed', a, { error_code: error.code, retryable: false });
        if (
          await this.d.store.transition(a.tenant_id, a.action_id, ['executing'], 'failed', { error, updated_at: at }, [
            ev,
          ])
        ) {
          failed++;
          // The connector may have acted: its price stays booked (a budget errs on the side of counting).
          await this.exec.settleSpend(a, 'spent');
          await this.fx.auditQuietly(this.fx.auditInput(a, 'operation.failed', 'failed', { error_code: error.code }));
          await this.d.events.flush([ev]);
        }
      }
    }
    return { resumed, failed };
  }
}
