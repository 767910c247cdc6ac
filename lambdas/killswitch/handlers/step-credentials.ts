import { stepCredentials } from '../core/saga.js';
import { stepBase } from '../adapters/deps.js';
import { credentialRevoker } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';
import { BROKER_SETTINGS } from '../../identity/index.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE'], BROKER_SETTINGS);

/** Step 3: cascade-revoke every credential binding and cached credential. */
export const handler = sagaTask('credentials', async ({ tenant_id, termination_id }) => {
  await stepCredentials({ ...stepBase(), credentials: credentialRevoker() }, tenant_id, termination_id);
  return { step: 'credentials', ok: true };
});
