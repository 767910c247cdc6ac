import { describe, it, expect, beforeAll } from 'vitest';
import { createVerify } from 'node:crypto';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { kmsClient } from '../../../lambdas/shared/aws.js';
import { TenantKeyMissingError, TenantKeySigner } from '../../../lambdas/killswitch/adapters/aws.js';
import { suffix } from '../policy/fixtures.js';

const key = async (tenant: string) =>
  (await kmsClient().send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Tags: [{ TagKey: 'arx:tenant', TagValue: tenant }] }))).KeyMetadata!;

const verifies = async (keyId: string, data: Uint8Array, sig: Uint8Array) => {
  const pub = (await kmsClient().send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
  return createVerify('sha256').update(data).verify({ key: Buffer.from(pub), format: 'der', type: 'spki' }, Buffer.from(sig));
};

describe('TenantKeySigner (exit attestations) against the emulator', () => {
  const initialTenant = `acme-${suffix()}`;
  const aliased = `globex-${suffix()}`;
  let initial: { Arn?: string; KeyId?: string };
  let own: { Arn?: string; KeyId?: string };
  const data = new TextEncoder().encode('{"termination_id":"term_1"}');

  beforeAll(async () => {
    initial = await key(initialTenant);
    own = await key(aliased);
    await kmsClient().send(new CreateAliasCommand({ AliasName: `alias/arx/${aliased}/signing`, TargetKeyId: own.KeyId! }));
  });

  it('F25: a tenant without an alias never gets its attestation signed with the initial tenant key', async () => {
    const signer = new TenantKeySigner(initial.Arn!);
    await expect(signer.sign(`initech-${suffix()}`, data)).rejects.toBeInstanceOf(TenantKeyMissingError);
    await expect(new TenantKeySigner(undefined).sign(`initech-${suffix()}`, data)).rejects.toBeInstanceOf(TenantKeyMissingError);
  });

  it('F25: signs with the alias key of the tenant, and with the initial key only for the tenant its tag names', async () => {
    const signer = new TenantKeySigner(initial.Arn!);
    const a = await signer.sign(aliased, data);
    expect(await verifies(own.KeyId!, data, a.signature)).toBe(true);
    const b = await signer.sign(initialTenant, data);
    expect(await verifies(initial.KeyId!, data, b.signature)).toBe(true);
    expect(await verifies(initial.KeyId!, data, a.signature)).toBe(false);
  });
});
