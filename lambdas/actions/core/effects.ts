import type { Clock } from '../../shared/clock.js';
import { DependencyError } from '../../shared/errors.js';
import type { ArxEventDetail, DetailType, EventSink, OutboxEntry } from '../../shared/events.js';
import type { AuditRecordInput, AuditSink } from '../../shared/ports.js';
import type { ActionRecord, ApprovalNotifier, ApprovalRecord, Logger } from './model.js';

/** What the after-the-fact effects of an action's state change need, and nothing more. */
export interface ActionEffectsDeps {
  readonly audit: AuditSink;
  /** After-the-fact audit writes go through this (retried, parked until durable) when set. */
  readonly durableAudit?: { record(input: AuditRecordInput): Promise<unknown> };
  /** Where events go: committed with the change (outbox) and flushed after it. */
  readonly events: EventSink;
  /** Approval channels to tell about a resolution; none = the API is the only channel told. */
  readonly notifier?: Pick<ApprovalNotifier, 'resolved'>;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * The effects that follow a committed change of an action: its audit record, its event, the
 * approval channel's notice. The event is committed with the change (outbox) and only flushed here;
 * the others are best effort (the state change already happened); the audit write that must
 * precede execution is {@link auditOrFail}.
 */
export class ActionEffects {
  constructor(private readonly d: ActionEffectsDeps) {}

  auditInput(a: ActionRecord, eventType: string, decision: string, extra: Record<string, unknown>): AuditRecordInput {
    return {
      tenant_id: a.tenant_id,
      event_type: eventType,
      agent_id: a.agent_id,
      ...(a.spiffe_id ? { principal_spiffe_id: a.spiffe_id } : {}),
      action: a.action,
      target: a.connector,
      decision,
      occurred_at: this.d.clock.now().toISOString(),
      correlation_id: a.correlation_id,
      trace_id: a.trace_id,
      payload: {
        action_id: a.action_id,
        params: a.params,
        binding_hash: a.binding_hash,
        risk: a.decision.risk,
        policy: a.decision.policy,
        approval_mode: a.decision.approval,
        determining_policies: a.decision.determining_policies,
        bundle_version: a.decision.bundle_version,
        ...extra,
      },
    };
  }

  /** The audit write that must precede execution: a failure refuses the action (503). */
  async auditOrFail(input: AuditRecordInput): Promise<void> {
    try {
      await this.d.audit.record(input);
    } catch (e) {
      this.d.log.error('audit write failed: the action is not executed', {
        event_type: input.event_type,
        error_name: (e as Error).name,
      });
      throw new DependencyError('the audit log is unavailable; the action was not executed', { cause: e });
    }
  }

  async auditQuietly(input: AuditRecordInput): Promise<void> {
    try {
      await (this.d.durableAudit ?? this.d.audit).record(input);
    } catch (e) {
      this.d.log.error('audit write failed after the fact', {
        event_type: input.event_type,
        error_name: (e as Error).name,
      });
    }
  }

  /**
   * The event announcing `a`'s change: handed to the store write that makes the change (committed
   * together, transactional outbox) and flushed with {@link flush} once that write succeeded.
   */
  event(type: DetailType, a: ActionRecord, extra: Record<string, unknown>): OutboxEntry {
    const detail: ArxEventDetail = {
      tenant_id: a.tenant_id,
      correlation_id: a.correlation_id,
      trace_id: a.trace_id,
      event_id: `${type}:${a.action_id}`,
      action_id: a.action_id,
      agent_id: a.agent_id,
      connector: a.connector,
      operation: a.operation,
      action: a.action,
      risk: a.decision.risk,
      traceparent: a.traceparent,
      // observability (ARX spans): the caller's span, the action's times and its decision
      ...(a.parent_span_id ? { parent_span_id: a.parent_span_id } : {}),
      created_at: a.created_at,
      updated_at: a.updated_at,
      decision: {
        effect: a.decision.effect,
        approval: a.decision.approval,
        policy: a.decision.policy,
        evaluation_ms: a.decision.evaluation_ms,
      },
      ...extra,
    };
    return { detailType: type, detail };
  }

  /** Publishes committed events now; what fails to publish stays in the outbox for the relay. */
  async flush(events: readonly OutboxEntry[]): Promise<void> {
    await this.d.events.flush(events);
  }

  async notifyResolved(a: ApprovalRecord): Promise<void> {
    if (!this.d.notifier?.resolved) return;
    try {
      await this.d.notifier.resolved(a);
    } catch (e) {
      this.d.log.warn('approval resolution notice failed', {
        approval_id: a.approval_id,
        error_name: (e as Error).name,
      });
    }
  }
}
