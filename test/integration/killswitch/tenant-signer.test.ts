import { describe, it, expect, beforeAll } from 'vitest';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { kmsClient } from '../../../lambdas/shared/aws.js';
import { createTenantSigner } from '../../../lambdas/identity/signer.js';
import type { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import {
  ATTESTATION_TYPE,
  signAttestation,
  verifyAttestation,
  verifyTenantAttestation,
  type SignedAttestation,
} from '../../../lambdas/killswitch/core/attestation.js';
import { createSingleTable } from '../../support/tables.js';
import { suffix } from '../policy/fixtures.js';

const key = async (tenant: string) =>
  (
    await kmsClient().send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Tags: [{ TagKey: 'arx:tenant', TagValue: tenant }],
      }),
    )
  ).KeyMetadata!;
const spki = async (keyId: string) =>
  Buffer.from((await kmsClient().send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);

const attestationOf = async (signer: TenantKeys, tenant: string): Promise<SignedAttestation> => {
  const doc = {
    type: ATTESTATION_TYPE,
    termination: { tenant_id: tenant, termination_id: `term_${suffix()}` },
    agents: [],
  };
  const [file] = await signAttestation(doc, signer, tenant);
  return JSON.parse(new TextDecoder().decode(file!.body)) as SignedAttestation;
};

describe('Exit attestations through the tenant signer (KMS and the key registry on the emulator)', () => {
  const tenantA = `acme-${suffix()}`;
  const tenantB = `initech-${suffix()}`;
  const aliased = `globex-${suffix()}`;
  let initial: { Arn?: string; KeyId?: string };
  let own: { Arn?: string; KeyId?: string };
  let signer: TenantKeys;

  beforeAll(async () => {
    // tenant A holds the initial key (ARX_SIGNING_KEY_ARN, tagged arx:tenant=A); B has no key at all
    initial = await key(tenantA);
    own = await key(aliased);
    await kmsClient().send(
      new CreateAliasCommand({ AliasName: `alias/arx/${aliased}/signing`, TargetKeyId: own.KeyId! }),
    );
    const control = `arx-control-ks-${suffix()}`;
    await createSingleTable(control);
    signer = createTenantSigner({ env: { ARX_CONTROL_TABLE: control, ARX_SIGNING_KEY_ARN: initial.Arn! } });
  });

  it("F25: tenant B's exit attestation is signed with B's own key: it verifies with B's keys and fails with A's", async () => {
    const a = await attestationOf(signer, tenantA);
    const b = await attestationOf(signer, tenantB);

    expect(b.signature).toMatchObject({ algorithm: 'ES256', format: 'raw' });
    expect(b.signature.key_id).not.toBe(a.signature.key_id);
    expect(verifyTenantAttestation(b, tenantB, await signer.publicKeys(tenantB))).toEqual({ valid: true });
    expect(verifyTenantAttestation(b, tenantB, await signer.publicKeys(tenantA))).toEqual({
      valid: false,
      reason: 'unknown key',
    });
    // independently of the registry: the initial (first tenant's) KMS key did not sign it
    expect(verifyAttestation(b, await spki(initial.Arn!)).valid).toBe(false);
    // nor can A's attestation pass as B's
    expect(verifyTenantAttestation(a, tenantB, await signer.publicKeys(tenantB)).valid).toBe(false);
  });

  it('signs with the alias key of the tenant, and with the initial key only for the tenant its tag names', async () => {
    const a = await attestationOf(signer, tenantA);
    const g = await attestationOf(signer, aliased);

    expect(verifyAttestation(a, await spki(initial.Arn!))).toEqual({ valid: true });
    expect(verifyAttestation(g, await spki(own.Arn!))).toEqual({ valid: true });
    expect(verifyAttestation(g, await spki(initial.Arn!)).valid).toBe(false);
    expect(verifyTenantAttestation(g, aliased, await signer.publicKeys(aliased))).toEqual({ valid: true });
  });

  it('refuses a changed attestation and a signature with an unknown key id', async () => {
    const b = await attestationOf(signer, tenantB);
    const keys = await signer.publicKeys(tenantB);

    const changed = { ...b, attestation: { ...b.attestation, agents: [{ agent_id: 'agt_x' }] } };
    expect(verifyTenantAttestation(changed, tenantB, keys)).toEqual({ valid: false, reason: 'digest mismatch' });
    const relabelled = { ...b, signature: { ...b.signature, key_id: 'not-a-kid' } };
    expect(verifyTenantAttestation(relabelled, tenantB, keys)).toEqual({ valid: false, reason: 'unknown key' });
  });
});
