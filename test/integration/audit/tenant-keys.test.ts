import { describe, expect, it } from 'vitest';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ManualClock } from '../../support/clock.js';
import { DynamoKeyStore } from '../../../lambdas/identity/adapters/dynamo-identity-store.js';
import { KmsKeyManager, TENANT_TAG } from '../../../lambdas/identity/adapters/kms-key-manager.js';
import { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import { TenantKeysBlockSigner } from '../../../lambdas/audit/adapters/deps.js';
import { GENESIS_STATE, headBytes, sealBlock } from '../../../lambdas/audit/core/block.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { makeEvent } from '../../unit/audit/fixtures.js';
import { createAuditTable, suffix } from './env.js';

describe('TenantKeysBlockSigner', () => {
  it('signs block heads with the tenant key so the tenant JWKS (identity) verifies them', async () => {
    const sfx = suffix();
    const tenant = `t-keys-${sfx}`;
    const control = `control-keys-${sfx}`;
    await createAuditTable(control);
    const key = await new KMSClient({}).send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Tags: [{ TagKey: TENANT_TAG, TagValue: tenant }],
      }),
    );
    const keys = new TenantKeys(
      new DynamoKeyStore(control),
      new KmsKeyManager(key.KeyMetadata!.Arn!),
      new ManualClock(),
    );
    const signer = new TenantKeysBlockSigner(keys);
    const events = [makeEvent(tenant, 1), makeEvent(tenant, 2)];
    const kid = await signer.activeKid(tenant);
    const s = sealBlock({ tenantId: tenant, prev: GENESIS_STATE, events, sealedAt: new Date(), kid });
    const sig = await signer.sign(tenant, headBytes(s.head));
    expect(sig.kid).toBe(kid);
    const block = { head: s.head, block_hash: s.block_hash, signature: sig.signature, events, timestamp: null };
    const jwks = await keys.jwks(tenant);
    const out = await verifyChain([{ name: '1.json', text: JSON.stringify(block) }], { jwks: jwks.keys });
    expect(out).toMatchObject({ ok: true, signatures_checked: true });
  });
});
