import { AUDIT_SINK_SETTINGS, createAuditSink } from '../../audit/index.js';
import { systemClock } from '../../shared/clock.js';
import { readSettings, type SettingName } from '../../shared/settings.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { logger } from '../../shared/observability.js';
import type { ApprovalDrainer } from '../../shared/ports.js';
import { ActionDrain } from '../core/drain.js';
import { DurableAudit } from '../core/durable-audit.js';
import { ActionEffects } from '../core/effects.js';
import type { Logger } from '../core/model.js';
import { DynamoActionStore } from './dynamo-action-store.js';
import { DynamoPendingAuditStore } from './dynamo-pending-audit.js';

/** What {@link createApprovalDrainer} reads. */
export const DRAINER_SETTINGS = [
  'ARX_CONTROL_TABLE',
  'ARX_EVENT_BUS',
  ...AUDIT_SINK_SETTINGS,
] as const satisfies readonly SettingName[];

/** The actions capability's log lines, through the shared Powertools logger. */
export const actionsLog: Logger = {
  info: (m, x) => logger.info(m, x ?? {}),
  warn: (m, x) => logger.warn(m, x ?? {}),
  error: (m, x) => logger.error(m, x ?? {}),
};

/**
 * The ApprovalDrainer port over the action store, the audit sink (durable, as every after-the-fact
 * audit write) and the event bus: no decision point, connectors, secrets or approval channels, so
 * the kill switch's drain step loads no cedar-wasm and needs no SES or Secrets Manager grant.
 * Channels are not told about the cancellation; an approver acting on a stale message gets the
 * API's `409 approval is no longer pending`.
 *
 * Environment: DRAINER_SETTINGS.
 */
export function createApprovalDrainer(): ApprovalDrainer {
  const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
  const store = new DynamoActionStore(c.ARX_CONTROL_TABLE);
  const audit = createAuditSink();
  const clock = systemClock;
  const durableAudit = new DurableAudit({
    recordOnce: (input, key) =>
      audit
        .recorder()
        .recordEvent(input, key)
        .then(() => undefined),
    pending: new DynamoPendingAuditStore(c.ARX_CONTROL_TABLE),
    now: () => clock.now(),
    log: actionsLog,
  });
  const effects = new ActionEffects({
    audit,
    durableAudit,
    events: new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS)),
    clock,
    log: actionsLog,
  });
  const drain = new ActionDrain({ store, clock, effects });
  return {
    cancelPendingForAgent: async (tenantId, agentId, reason) => ({
      cancelled: await drain.cancelPendingForAgent(tenantId, agentId, reason),
    }),
  };
}
