import { stepCredentials } from '../core/saga.js';
import { stepBase } from '../adapters/deps.js';
import { credentialRevoker } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';

/** Step 3: cascade-revoke every credential binding and cached credential. */
export const handler = sagaTask('credentials', async ({ tenant_id, termination_id }) => {
  await stepCredentials({ ...stepBase(), credentials: credentialRevoker() }, tenant_id, termination_id);
  return { step: 'credentials', ok: true };
});
