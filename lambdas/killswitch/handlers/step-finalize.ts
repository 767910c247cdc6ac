import { finalizeTermination } from '../core/saga.js';
import { publisher, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';

/** Last task: complete / partial_failure, and agent.terminated.completed on the bus. */
export const handler = sagaTask('finalize', async ({ tenant_id, termination_id }) => {
  const { status } = await finalizeTermination({ ...stepBase(), events: publisher() }, tenant_id, termination_id);
  return { status };
});
