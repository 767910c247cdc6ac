import { stepPlatform } from '../core/saga.js';
import { inventory, platforms, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE', 'ARX_INVENTORY_TABLE']);

/** Step 4: platform kill commands through the adapters (Bedrock, generic HTTP). */
export const handler = sagaTask('platform', async ({ tenant_id, termination_id }) => {
  await stepPlatform({ ...stepBase(), inventory: inventory(), platforms: platforms() }, tenant_id, termination_id);
  return { step: 'platform', ok: true };
});
