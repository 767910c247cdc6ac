import { stepPlatform } from '../core/saga.js';
import { inventory, platforms, stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';

/** Step 4: platform kill commands through the adapters (Bedrock, generic HTTP). */
export const handler = sagaTask('platform', async ({ tenant_id, termination_id }) => {
  await stepPlatform({ ...stepBase(), inventory: inventory(), platforms: platforms() }, tenant_id, termination_id);
  return { step: 'platform', ok: true };
});
