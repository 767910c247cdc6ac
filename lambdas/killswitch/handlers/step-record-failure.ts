import { ValidationError } from '../../shared/errors.js';
import { recordStepFailure } from '../core/saga.js';
import { stepBase } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE']);

/** Reached through a Catch after a best-effort step exhausted its retries: records it `failed`. */
export const handler = sagaTask('record-failure', async ({ tenant_id, termination_id, step, error }) => {
  if (!step) throw new ValidationError('record-failure needs the step name');
  await recordStepFailure(stepBase(), tenant_id, termination_id, step, error);
  return { step, ok: false };
});
