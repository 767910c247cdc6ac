import { stepDrain } from '../core/saga.js';
import { stepBase } from '../adapters/deps.js';
import { drainer } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';

/** Step 5: cancel pending approvals and refuse in-flight actions. */
export const handler = sagaTask('drain', async ({ tenant_id, termination_id }) => {
  await stepDrain({ ...stepBase(), drainer: drainer() }, tenant_id, termination_id);
  return { step: 'drain', ok: true };
});
