import { stepInventory } from '../core/saga.js';
import { agentState, inventory, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE', 'ARX_INVENTORY_TABLE', 'ARX_EVENT_BUS']);

/** Step 1 (fail-closed): inventory status `terminated` (conditional write). */
export const handler = sagaTask('inventory', async ({ tenant_id, termination_id }) => {
  await stepInventory({ ...stepBase(), inventory: inventory(), agentState: agentState() }, tenant_id, termination_id);
  return { step: 'inventory', ok: true };
});
