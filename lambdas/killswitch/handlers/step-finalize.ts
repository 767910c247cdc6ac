import { finalizeTermination } from '../core/saga.js';
import { inventory, eventSink, revocations, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';

/** Last task: complete / partial_failure (never complete while a target is not stopped), and agent.terminated.completed on the bus. */
export const handler = sagaTask('finalize', async ({ tenant_id, termination_id }) => {
  const { status } = await finalizeTermination(
    { ...stepBase(), events: eventSink(), targets: { inventory: inventory(), revocationList: revocations() } },
    tenant_id,
    termination_id,
  );
  return { status };
});
