import { describe, it, expect, beforeAll } from 'vitest';
import { verify as cryptoVerify, createPublicKey } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { kmsClient, s3Client } from '../../../lambdas/shared/aws.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { apiEvent } from '../../support/api-event.js';
import { createTenantSigner } from '../../../lambdas/identity/signer.js';
import { S3BundleStore } from '../../../lambdas/policy/adapters/s3-bundles.js';
import { encodeBundle } from '../../../lambdas/policy/core/bundle.js';
import { TenantBundleSigner } from '../../../lambdas/policy/core/signing.js';
import { inventoryOf, policyResources, suffix } from './fixtures.js';
import { ACCESS_REVIEW_SHORT } from '../../support/fixtures.js';

const ctx = {
  functionName: 'policy-api',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;
const YAML = ACCESS_REVIEW_SHORT;

/** Independent check: ES256 (R‖S) over the digest with the KMS key's own public key. */
const kmsVerifies = async (keyId: string, digest: string, sigB64u: string): Promise<boolean> => {
  const spki = (await kmsClient().send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return cryptoVerify(
    'sha256',
    Buffer.from(digest, 'utf8'),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sigB64u, 'base64url'),
  );
};

describe("policy bundles are signed with their own tenant's key (policy-api handler, KMS and S3 on the emulator)", () => {
  let handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>;
  const tenantA = `acme-${suffix()}`;
  const tenantB = `globex-${suffix()}`;
  const admin = (tenantId: string): AuthContext => ({
    tenantId,
    subject: 'alice',
    roles: ['admin'],
    principalType: 'human',
  });
  const agent = (tenantId: string): AuthContext => ({
    tenantId,
    subject: 'spiffe://x/agt_1',
    roles: ['agent'],
    principalType: 'agent',
    agentId: 'agt_1',
  });
  let r: Awaited<ReturnType<typeof policyResources>>;
  let initialKeyArn: string;
  let store: S3BundleStore;

  const call = async (
    routeKey: string,
    who: AuthContext,
    o: { body?: unknown; params?: Record<string, string> } = {},
  ) => {
    const [method, route] = routeKey.split(' ') as [string, string];
    const e = apiEvent({
      method,
      route,
      auth: who,
      ...(o.params ? { params: o.params } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    const res = (await handler(e, ctx)) as { statusCode: number; body: string };
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
  const keys = () =>
    createTenantSigner({ env: { ARX_CONTROL_TABLE: r.controlTable, ARX_SIGNING_KEY_ARN: initialKeyArn } });

  beforeAll(async () => {
    r = await policyResources('tenant-signer');
    store = new S3BundleStore(r.bucket);
    // the stack's initial key: the FIRST tenant's (ARX_SIGNING_KEY_ARN, tagged arx:tenant=A)
    initialKeyArn = (
      await kmsClient().send(
        new CreateKeyCommand({
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          Tags: [{ TagKey: 'arx:tenant', TagValue: tenantA }],
        }),
      )
    ).KeyMetadata!.Arn!;
    for (const t of [tenantA, tenantB]) await inventoryOf(r).register(t, 'agt_1');
    const bus = `arx-bus-${suffix()}`;
    await new EventBridgeClient({}).send(new CreateEventBusCommand({ Name: bus }));
    Object.assign(process.env, {
      ARX_BUNDLE_BUCKET: r.bucket,
      ARX_CONTROL_TABLE: r.controlTable,
      ARX_REVOCATION_TABLE: r.revocationTable,
      ARX_INVENTORY_TABLE: r.inventoryTable,
      ARX_SIGNING_KEY_ARN: initialKeyArn,
      ARX_EVENT_BUS: bus,
    });
    ({ handler } = (await import('../../../lambdas/policy/handlers/api.js')) as never);
  });

  it("signs tenant B's bundle with B's key: it verifies with B's public key and fails with A's", async () => {
    const a = await call('POST /v1/policies/bundles', admin(tenantA), { body: { format: 'yaml', document: YAML } });
    const b = await call('POST /v1/policies/bundles', admin(tenantB), { body: { format: 'yaml', document: YAML } });
    expect([a.status, b.status]).toEqual([201, 201]);

    const storedA = (await store.get(tenantA, a.body.bundle_id))!;
    const storedB = (await store.get(tenantB, b.body.bundle_id))!;
    expect(storedB.signature.kid).toBe((await keys().publicKeys(tenantB))[0]!.kid);
    expect(storedB.signature.kid).not.toBe(storedA.signature.kid);
    // B's own KMS key (its alias) verifies it; the first tenant's key does not
    expect(await kmsVerifies(`alias/arx/${tenantB}/signing`, storedB.digest, storedB.signature.sig)).toBe(true);
    expect(await kmsVerifies(initialKeyArn, storedB.digest, storedB.signature.sig)).toBe(false);
    expect(await kmsVerifies(initialKeyArn, storedA.digest, storedA.signature.sig)).toBe(true);
    // the verifier looks keys up per tenant: B's signature does not pass for A
    const verifier = new TenantBundleSigner(keys());
    expect(await verifier.verify(tenantB, storedB.digest, storedB.signature)).toBe(true);
    expect(await verifier.verify(tenantA, storedB.digest, storedB.signature)).toBe(false);
  });

  it("promotes and evaluates B's bundle under B's key, and refuses a B bundle signed with A's key", async () => {
    const b = await call('POST /v1/policies/bundles', admin(tenantB), { body: { format: 'yaml', document: YAML } });
    expect(
      (await call('POST /v1/policies/bundles/{id}/promote', admin(tenantB), { params: { id: b.body.bundle_id } }))
        .status,
    ).toBe(200);
    const permit = await call('POST /v1/policies/evaluate', agent(tenantB), {
      body: { principal: { type: 'Agent', id: 'agt_1' }, action: 'okta:users:deactivate' },
    });
    expect(permit.body).toMatchObject({ effect: 'permit', approval: 'hitl', bundle_version: String(b.body.version) });

    // the old defect: B's content signed with the first tenant's key
    const c = await call('POST /v1/policies/bundles', admin(tenantB), { body: { format: 'yaml', document: YAML } });
    const genuine = (await store.get(tenantB, c.body.bundle_id))!;
    const forged = { ...genuine, signature: await new TenantBundleSigner(keys()).sign(tenantA, genuine.digest) };
    await s3Client().send(
      new PutObjectCommand({
        Bucket: r.bucket,
        Key: store.keyOf(tenantB, c.body.bundle_id),
        Body: encodeBundle(forged),
      }),
    );
    const refused = await call('POST /v1/policies/bundles/{id}/promote', admin(tenantB), {
      params: { id: c.body.bundle_id },
    });

    expect(refused.status).toBe(400);
    expect(refused.body.detail).toMatch(/signature is invalid/);
    expect((await store.getLive(tenantB))?.bundle_id).toBe(b.body.bundle_id);
  });
});
