import type { ActionContext, ActionServiceDeps } from './context.js';
import type { ActionEffects } from './effects.js';
import { inactiveReason, readBoundSecret } from './guards.js';
import {
  ConnectorError,
  FINAL_ACTION_STATUSES,
  connectorSecretName,
  storedResult,
  type ActionError,
  type ActionRecord,
} from './model.js';
import { bindingHash } from './signing.js';

/**
 * Execution: runs a `pending_execution` action at most once (claim, re-checks, connector call,
 * outcome), and the ways it ends without running (cancelled or failed before the connector).
 */
export class ActionExecution {
  private readonly d: ActionServiceDeps;
  private readonly fx: ActionEffects;
  private readonly elapsedMs: () => number;

  constructor(c: ActionContext) {
    this.d = c.d;
    this.fx = c.fx;
    this.elapsedMs = c.elapsedMs;
  }

  /**
   * Runs a `pending_execution` action at most once: claims it by a conditional write, re-checks
   * the revocation list and the binding hash, calls the connector, records the outcome. Calling
   * it again (a retried Lambda, a second approver) never runs the connector a second time.
   */
  async runExecution(action: ActionRecord): Promise<ActionRecord> {
    const { tenant_id: tenantId, action_id: actionId } = action;
    const rev = await this.d.revocation.status(tenantId, action.agent_id);
    if (rev === 'unknown') {
      // Fail closed without losing the approval: it stays pending_execution and recoverStalled retries it.
      this.d.log.warn('revocation list unavailable: execution deferred', { action_id: actionId });
      return (await this.d.store.getAction(tenantId, actionId)) ?? action;
    }
    if (rev === 'revoked') {
      return this.cancelBeforeRun(action, {
        code: 'agent_revoked',
        message: 'the agent was revoked before the action ran',
        retryable: false,
      });
    }
    const info = await this.d.agents.get(tenantId, action.agent_id).then(
      (x) => ({ ok: true as const, x }),
      () => ({ ok: false as const }),
    );
    if (!info.ok) {
      this.d.log.warn('agent inventory unavailable: execution deferred', { action_id: actionId });
      return (await this.d.store.getAction(tenantId, actionId)) ?? action;
    }
    const inactive = inactiveReason(info.x);
    if (inactive) {
      return this.cancelBeforeRun(
        action,
        { code: 'agent_inactive', message: `${inactive}; the action was not run`, retryable: false },
        { audit: true },
      );
    }
    const startAt = this.d.clock.now().toISOString();
    // The claim answers the action as stored after it: the params checked below are the stored ones.
    const current = await this.d.store.claim(tenantId, actionId, ['pending_execution'], 'executing', {
      updated_at: startAt,
      incrementAttempts: true,
    });
    if (!current) return (await this.d.store.getAction(tenantId, actionId)) ?? action;

    // The stored params must still hash to what was decided (and approved).
    const rehash = bindingHash(current.agent_id, current.connector, current.operation, current.params);
    const approval = current.approval_id ? await this.d.store.getApproval(tenantId, current.approval_id) : null;
    if (
      rehash !== current.binding_hash ||
      rehash !== action.binding_hash ||
      (approval && approval.binding_hash !== rehash)
    ) {
      return this.finishFailed(current, {
        code: 'binding_mismatch',
        message: 'the parameters differ from those decided and approved; nothing was executed',
        retryable: false,
      });
    }
    const connector = this.d.connectors.get(current.connector);
    const op = connector?.operations[current.operation];
    const parsed = op?.params.safeParse(current.params);
    if (!connector || !op || !parsed?.success) {
      return this.finishFailed(current, {
        code: 'invalid_operation',
        message: 'the operation or its params are no longer valid',
        retryable: false,
      });
    }
    const started = this.elapsedMs();
    try {
      const config = await this.d.configs.getConfig(tenantId, current.connector);
      const result = await withTimeout(
        connector.execute(
          {
            tenantId,
            agentId: current.agent_id,
            actionId,
            correlationId: current.correlation_id,
            traceparent: current.traceparent,
            config,
            secret: () => readBoundSecret(this.d.secrets, connectorSecretName(tenantId, current.connector), config),
            credentials: this.d.credentials,
            fetch: this.d.fetch ?? fetch,
          },
          current.operation,
          parsed.data,
        ),
        this.d.connectorTimeoutMs ?? 15_000,
      );
      const at = this.d.clock.now().toISOString();
      const latency = Math.round(this.elapsedMs() - started);
      const ev = this.fx.event(
        'operation.executed',
        { ...current, status: 'executed', updated_at: at },
        {
          latency_ms: latency,
          approval_id: current.approval_id ?? null,
          approval_metadata: current.approval_metadata ?? null,
        },
      );
      const recorded = await this.d.store.transition(
        tenantId,
        actionId,
        ['executing'],
        'executed',
        { result: result ?? null, updated_at: at },
        [ev],
      );
      // Recorded: the action is what was claimed, now executed with the result as the store keeps it.
      const done: ActionRecord = recorded
        ? { ...current, status: 'executed', result: storedResult(result ?? null), updated_at: at }
        : (await this.d.store.getAction(tenantId, actionId))!;
      await this.fx.auditQuietly(
        this.fx.auditInput(done, 'operation.executed', 'executed', {
          latency_ms: latency,
          approval_metadata: done.approval_metadata ?? null,
        }),
      );
      // not recorded: recovery already closed it as outcome_unknown, and that is what was announced
      if (recorded) await this.d.events.flush([ev]);
      return done;
    } catch (e) {
      const err: ActionError =
        e instanceof ConnectorError
          ? { code: e.code, message: e.message, retryable: e.retryable }
          : e instanceof TimeoutError
            ? { code: 'timeout', message: 'the connector did not answer in time', retryable: true }
            : { code: 'connector_error', message: 'the connector call failed', retryable: true };
      this.d.log.warn('connector call failed', { action_id: actionId, code: err.code, error_name: (e as Error).name });
      return this.finishFailed(current, err);
    }
  }

  /**
   * Settles the action's budget reservation (reserved under the action id) once the action has
   * ended: `executed` books the price, any other final status frees it. An action still in flight
   * keeps it (recovery settles it). Idempotent, and a no-op without a reservation.
   */
  async settleSpend(action: ActionRecord, outcome?: 'spent' | 'released'): Promise<void> {
    if (!this.d.spend) return;
    const o =
      outcome ??
      (action.status === 'executed' ? 'spent' : FINAL_ACTION_STATUSES.includes(action.status) ? 'released' : null);
    if (!o) return;
    await this.d.spend
      .settle(action.tenant_id, action.action_id, o)
      .catch((e: unknown) =>
        this.d.log.warn('budget settle failed', { action_id: action.action_id, error_name: (e as Error).name }),
      );
  }

  /**
   * Moves a `pending_execution` action to `cancelled` before anything ran, its `operation.failed`
   * committed with the change (and audited when `audit`); answers the stored action.
   */
  async cancelBeforeRun(action: ActionRecord, error: ActionError, o: { audit?: boolean } = {}): Promise<ActionRecord> {
    const { tenant_id: tenantId, action_id: actionId } = action;
    const ev = this.fx.event('operation.failed', action, { error_code: error.code });
    const patch = { error, updated_at: this.d.clock.now().toISOString() };
    if (await this.d.store.transition(tenantId, actionId, ['pending_execution'], 'cancelled', patch, [ev])) {
      if (o.audit)
        await this.fx.auditQuietly(
          this.fx.auditInput(action, 'operation.failed', 'cancelled', { error_code: error.code }),
        );
      await this.d.events.flush([ev]);
    }
    return (await this.d.store.getAction(tenantId, actionId)) ?? action;
  }

  /** Fails a `pending_execution` action closed before anything ran (e.g. its approval could not be audited). */
  async failBeforeRun(action: ActionRecord, error: ActionError, cause: unknown): Promise<void> {
    this.d.log.error('failing closed before execution', {
      action_id: action.action_id,
      code: error.code,
      error_name: (cause as Error)?.name,
    });
    const ev = this.fx.event('operation.failed', action, { error_code: error.code });
    const ok = await this.d.store.transition(
      action.tenant_id,
      action.action_id,
      ['pending_execution'],
      'failed',
      { error, updated_at: this.d.clock.now().toISOString() },
      [ev],
    );
    if (ok) await this.d.events.flush([ev]);
  }

  async finishFailed(action: ActionRecord, error: ActionError): Promise<ActionRecord> {
    const at = this.d.clock.now().toISOString();
    const ev = this.fx.event(
      'operation.failed',
      { ...action, status: 'failed', error, updated_at: at },
      { error_code: error.code, retryable: error.retryable, approval_id: action.approval_id ?? null },
    );
    const ok = await this.d.store.transition(
      action.tenant_id,
      action.action_id,
      ['executing'],
      'failed',
      { error, updated_at: at },
      [ev],
    );
    const done = (await this.d.store.getAction(action.tenant_id, action.action_id)) ?? action;
    await this.fx.auditQuietly(
      this.fx.auditInput(done, 'operation.failed', 'failed', { error_code: error.code, retryable: error.retryable }),
    );
    if (ok) await this.d.events.flush([ev]);
    return done;
  }
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
