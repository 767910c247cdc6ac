import { stepRevocation } from '../core/saga.js';
import { inventory, revocations, stepBase, tokenTtl } from '../adapters/deps.js';
import { sagaTask } from './saga-task.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings([
  'ARX_CONTROL_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_MAX_TOKEN_TTL_S',
]);

/** Step 2 (fail-closed): the revocation-list entry, kept max(token TTL, 30 days). */
export const handler = sagaTask('revocation', async ({ tenant_id, termination_id }) => {
  await stepRevocation(
    { ...stepBase(), inventory: inventory(), revocations: revocations(), tokenTtlSeconds: tokenTtl() },
    tenant_id,
    termination_id,
  );
  return { step: 'revocation', ok: true };
});
