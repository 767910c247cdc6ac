import { finalizeTermination } from '../core/saga.js';
import { inventory, eventSink, revocations, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings([
  'ARX_CONTROL_TABLE',
  'ARX_EVENT_BUS',
  'ARX_INVENTORY_TABLE',
  'ARX_REVOCATION_TABLE',
]);

/** Last task: complete / partial_failure (never complete while a target is not stopped), and agent.terminated.completed on the bus. */
export const handler = sagaTask('finalize', async ({ tenant_id, termination_id }) => {
  const { status } = await finalizeTermination(
    { ...stepBase(), events: eventSink(), targets: { inventory: inventory(), revocationList: revocations() } },
    tenant_id,
    termination_id,
  );
  return { status };
});
