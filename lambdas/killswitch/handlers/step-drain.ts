import { stepDrain } from '../core/saga.js';
import { stepBase } from '../adapters/deps.js';
import { drainer } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';
import { DRAINER_SETTINGS } from '../../actions/index.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE'], DRAINER_SETTINGS);

/** Step 5: cancel pending approvals and refuse in-flight actions. */
export const handler = sagaTask('drain', async ({ tenant_id, termination_id }) => {
  await stepDrain({ ...stepBase(), drainer: drainer() }, tenant_id, termination_id);
  return { step: 'drain', ok: true };
});
