import { stepAudit } from '../core/saga.js';
import { inventory, eventSink, stepBase } from '../adapters/deps.js';
import { auditSink } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';
import { AUDIT_SINK_SETTINGS } from '../../audit/index.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(
  ['ARX_CONTROL_TABLE', 'ARX_INVENTORY_TABLE', 'ARX_EVENT_BUS'],
  AUDIT_SINK_SETTINGS,
);

/** Step 6: the agent.terminated audit event (chain) and bus event. */
export const handler = sagaTask('audit', async ({ tenant_id, termination_id }) => {
  await stepAudit(
    { ...stepBase(), inventory: inventory(), audit: auditSink(), events: eventSink() },
    tenant_id,
    termination_id,
  );
  return { step: 'audit', ok: true };
});
