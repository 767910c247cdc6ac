import { readConfig } from '../../shared/config.js';
import { stepAttestation } from '../core/saga.js';
import { S3AttestationWriter } from '../adapters/aws.js';
import { inventory, stepBase } from '../adapters/deps.js';
import { activityReader, signer } from '../adapters/peers.js';
import { sagaTask } from './saga-task.js';

let writer: S3AttestationWriter | undefined;

/** Step 7: the exit attestation, signed with the tenant key, written to the audit bucket. */
export const handler = sagaTask('attestation', async ({ tenant_id, termination_id }) => {
  writer ??= new S3AttestationWriter(readConfig(['ARX_AUDIT_BUCKET']).ARX_AUDIT_BUCKET);
  const { url } = await stepAttestation(
    { ...stepBase(), inventory: inventory(), activity: activityReader(), signer: signer(), attestations: writer },
    tenant_id,
    termination_id,
  );
  return { step: 'attestation', ok: true, attestation_url: url };
});
