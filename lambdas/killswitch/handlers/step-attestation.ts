import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { stepAttestation } from '../core/saga.js';
import { S3AttestationWriter } from '../adapters/aws.js';
import { inventory, stepBase } from '../adapters/deps.js';
import { activityReader, signer } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';

const writer = perEnvironment(() => new S3AttestationWriter(readSettings(['ARX_AUDIT_BUCKET']).ARX_AUDIT_BUCKET));

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings([
  'ARX_CONTROL_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_AUDIT_TABLE',
  'ARX_AUDIT_BUCKET',
  'ARX_SIGNING_KEY_ARN',
]);

/** Step 7: the exit attestation, signed with the tenant key, written to the audit bucket. */
export const handler = sagaTask('attestation', async ({ tenant_id, termination_id }) => {
  const { url } = await stepAttestation(
    { ...stepBase(), inventory: inventory(), activity: activityReader(), signer: signer(), attestations: writer() },
    tenant_id,
    termination_id,
  );
  return { step: 'attestation', ok: true, attestation_url: url };
});
