import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Decision, Reservation } from '../../shared/ports.js';
import type { TraceContext } from '../../shared/trace.js';
import type { ActionContext, ActionServiceDeps, AgentCaller, SubmitInput } from './context.js';
import { decideSafely, forbid, summarise } from './decision.js';
import type { ActionEffects } from './effects.js';
import type { ActionExecution } from './execution.js';
import { MAX_PARAMS_BYTES, holdSeconds, separationRequired } from './guards.js';
import type { ActionRecord, ApprovalRecord, Connector } from './model.js';
import { bindingHash } from './signing.js';

/** Default hold for a `hitl` action when the policy names no `hitl_timeout` (the brief's 1 h). */
export const DEFAULT_HITL_TIMEOUT_S = 3600;

export type SubmitOutcome =
  | { readonly kind: 'executed' | 'failed'; readonly action: ActionRecord }
  | { readonly kind: 'pending'; readonly action: ActionRecord; readonly approval: ApprovalRecord }
  | { readonly kind: 'denied'; readonly action: ActionRecord };

/** Submission: validate, decide, then deny, hold for approval, or run now (autonomous). */
export class ActionSubmit {
  private readonly d: ActionServiceDeps;
  private readonly fx: ActionEffects;

  constructor(
    c: ActionContext,
    private readonly exec: ActionExecution,
  ) {
    this.d = c.d;
    this.fx = c.fx;
  }

  /** Validates the connector, operation and params (400 on any mismatch). */
  resolveOperation(
    connectorName: string,
    operation: string,
    params: unknown,
  ): { connector: Connector; params: Record<string, unknown> } {
    const connector = this.d.connectors.get(connectorName);
    if (!connector) {
      throw new ValidationError(`unknown connector "${connectorName}"`, [
        { path: 'connector', message: `one of: ${[...this.d.connectors.keys()].join(', ')}` },
      ]);
    }
    const op = connector.operations[operation];
    if (!op || !Object.hasOwn(connector.operations, operation)) {
      throw new ValidationError(`unknown operation "${operation}" for connector "${connectorName}"`, [
        { path: 'operation', message: `one of: ${Object.keys(connector.operations).join(', ')}` },
      ]);
    }
    // F3: bound the work done on caller input before any schema (or regex) looks at it.
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(params) ?? '');
    } catch {
      throw new ValidationError('params must be JSON', [{ path: 'params', message: 'not serialisable' }]);
    }
    if (size > MAX_PARAMS_BYTES) {
      throw new ValidationError(`params are ${size} bytes; at most ${MAX_PARAMS_BYTES}`, [
        { path: 'params', message: `at most ${MAX_PARAMS_BYTES} bytes as JSON` },
      ]);
    }
    const r = op.params.safeParse(params);
    if (!r.success) {
      throw new ValidationError(
        `invalid params for ${connectorName}:${operation}`,
        r.error.issues.map((i) => ({ path: ['params', ...i.path.map(String)].join('.'), message: i.message })),
      );
    }
    return { connector, params: r.data };
  }

  /** `POST /v1/actions`: decide, then deny, hold for approval, or run now. */
  /** `actionId`: the id to create the action under (an Idempotency-Key claim names it in advance). */
  async submit(
    caller: AgentCaller,
    input: SubmitInput,
    trace: TraceContext,
    givenActionId?: string,
  ): Promise<SubmitOutcome> {
    const { params } = this.resolveOperation(input.connector, input.operation, input.params);
    const now = this.d.clock.now();
    const at = now.toISOString();
    const actionName = `${input.connector}:${input.operation}`;
    // The spend context once: null when no budget applies, undefined when the ledger could not say.
    const spend = this.d.spend
      ? await this.d.spend.context(caller.tenantId, caller.agentId).then(
          (c) => c,
          () => undefined,
        )
      : null;
    let decision = await decideSafely(this.d, caller, actionName, input, spend);
    const actionId = givenActionId ?? newId('act', now);
    // Budget: reserve before anything runs, so concurrent actions cannot overshoot (fail closed:
    // a ledger that could not answer for the context is asked again, and an error there forbids).
    let reserved = false;
    // The decision's YAML budgets are reserved against like PUT /v1/usage/budgets ones. A held (hitl)
    // action reserves nothing while it waits: it reserves when approved, just before it runs.
    if (this.d.spend && spend !== null && decision.effect === 'permit' && decision.approval !== 'hitl') {
      const r = await this.d.spend
        .reserve(caller.tenantId, caller.agentId, actionName, actionId, { budgets: decision.budgets ?? [] })
        .catch((): Reservation => ({ ok: false, over: 'forbid', remaining_usd: 0 }));
      if (r.ok) reserved = r.held;
      else decision = overBudget(decision, r);
    }
    const base: ActionRecord = {
      action_id: actionId,
      tenant_id: caller.tenantId,
      agent_id: caller.agentId,
      ...(caller.spiffeId ? { spiffe_id: caller.spiffeId } : {}),
      connector: input.connector,
      operation: input.operation,
      action: actionName,
      params,
      binding_hash: bindingHash(caller.agentId, input.connector, input.operation, params),
      status: 'denied',
      decision: summarise(decision),
      correlation_id: input.correlation_id ?? randomUUID(),
      trace_id: trace.traceId,
      traceparent: trace.traceparent,
      ...(trace.parentSpanId ? { parent_span_id: trace.parentSpanId } : {}),
      ...(input.reason ? { reason: input.reason } : {}),
      attempts: 0,
      created_at: at,
      updated_at: at,
    };

    if (decision.effect !== 'permit') {
      const ev = this.fx.event('policy.decision', base, { effect: 'forbid' }); // observability: the forbid's span
      await this.d.store.create(base, undefined, [ev]);
      await this.fx.auditQuietly(this.fx.auditInput(base, 'policy.decision', 'forbid', {}));
      await this.d.events.flush([ev]);
      return { kind: 'denied', action: base };
    }

    if (decision.approval === 'hitl') {
      const timeoutS = holdSeconds(decision.hitl?.timeout_seconds, DEFAULT_HITL_TIMEOUT_S);
      const expiresAt = new Date(now.getTime() + timeoutS * 1000).toISOString();
      const info = await this.d.agents.get(caller.tenantId, caller.agentId).catch((e: unknown) => {
        this.d.log.warn('agent directory unavailable', { error_name: (e as Error).name });
        return null;
      });
      const approvalId = newId('apr', now);
      const action: ActionRecord = {
        ...base,
        status: 'pending_approval',
        approval_id: approvalId,
        expires_at: expiresAt,
      };
      const approval: ApprovalRecord = {
        approval_id: approvalId,
        action_id: action.action_id,
        tenant_id: caller.tenantId,
        agent_id: caller.agentId,
        ...(info?.name ? { agent_name: info.name } : {}),
        ...(info?.owner_sub ? { owner_sub: info.owner_sub } : {}),
        ...(info?.owner_email ? { owner_email: info.owner_email } : {}),
        connector: input.connector,
        operation: input.operation,
        action: actionName,
        params,
        binding_hash: action.binding_hash,
        status: 'pending',
        risk: decision.risk,
        policy: decision.policy ?? null,
        ...(decision.hitl?.channel ? { channel: decision.hitl.channel } : {}),
        separation_of_duties: separationRequired(decision.risk, decision.hitl?.separation_of_duties),
        ...(input.reason ? { reason: input.reason } : {}),
        correlation_id: action.correlation_id,
        trace_id: action.trace_id,
        created_at: at,
        expires_at: expiresAt,
      };
      // Audit before anything is held: an action whose decision cannot be recorded never proceeds.
      await this.fx.auditOrFail(
        this.fx.auditInput(action, 'decision.required', 'permit', { approval_id: approvalId, expires_at: expiresAt }),
      );
      const ev = this.fx.event('decision.required', action, {
        approval_id: approvalId,
        expires_at: expiresAt,
        risk: approval.risk,
        policy: approval.policy,
        channel: approval.channel ?? null,
      });
      await this.d.store.create(action, approval, [ev]);
      await this.d.events.flush([ev]);
      try {
        await this.d.notifier.notify(approval);
      } catch (e) {
        this.d.log.warn('approval notification failed; the API channel still works', {
          approval_id: approvalId,
          error_name: (e as Error).name,
        });
      }
      return { kind: 'pending', action, approval };
    }

    const action: ActionRecord = { ...base, status: 'pending_execution' };
    await this.fx.auditOrFail(this.fx.auditInput(action, 'policy.decision', 'permit', {}));
    await this.d.store.create(action);
    const done = await this.exec.runExecution(action);
    if (reserved) await this.exec.settleSpend(done);
    return { kind: done.status === 'executed' ? 'executed' : 'failed', action: done };
  }
}

/**
 * The decision once a reservation was refused: held for a human (`over: hitl`, where the YAML
 * policy holds its actions), or forbidden naming the YAML budget's policy when it was one.
 */
export function overBudget(decision: Decision, r: Extract<Reservation, { ok: false }>): Decision {
  const b = r.budget;
  if (r.over === 'hitl') {
    const hitl = decision.hitl ?? b?.hitl;
    return { ...decision, approval: 'hitl', ...(hitl ? { hitl } : {}) };
  }
  const f = forbid('budget exceeded');
  return b ? { ...f, risk: decision.risk, policy: b.policy, determining_policies: [`${b.policy}/budget`] } : f;
}
