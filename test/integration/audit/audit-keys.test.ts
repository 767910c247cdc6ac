import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DescribeKeyCommand, KMSClient, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { ManualClock } from '../../support/clock.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { DynamoChainStore } from '../../../lambdas/audit/adapters/dynamo-chain-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { S3BlockStore } from '../../../lambdas/audit/adapters/s3-block-store.js';
import { auditKeyAlias, DynamoAuditKeyStore, KmsAuditKeyManager } from '../../../lambdas/audit/adapters/audit-keys.js';
import { TenantKeysBlockSigner } from '../../../lambdas/audit/adapters/deps.js';
import { AuditKeys } from '../../../lambdas/audit/core/audit-keys.js';
import { AuditRecorder } from '../../../lambdas/audit/core/record.js';
import { sealTenant } from '../../../lambdas/audit/core/sealer.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { DynamoKeyStore } from '../../../lambdas/identity/adapters/dynamo-identity-store.js';
import { KmsKeyManager } from '../../../lambdas/identity/adapters/kms-key-manager.js';
import { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import { createAuditTable, createKeys, createLockedBucket, suffix } from './env.js';

vi.setConfig({ testTimeout: 120_000 });

type Handler = (
  event: unknown,
  ctx: Context,
) => Promise<{ statusCode: number; body?: string; headers?: Record<string, string> }>;
const sfx = suffix();
const T = `t-akeys-${sfx}`;
const table = `audit-akeys-${sfx}`;
const bucket = `audit-akeys-${sfx}`;
const clock = new ManualClock(Date.now());
let api: Handler;
let dataKeyArn: string;

/** GET /tenants/{tenant_id}/.well-known/audit-keys.json through the audit-api handler chain, without a token. */
async function getKeySet(tenant: string) {
  const path = `/tenants/${encodeURIComponent(tenant)}/.well-known/audit-keys.json`;
  const r = await api(
    {
      version: '2.0',
      routeKey: 'GET /tenants/{tenant_id}/.well-known/audit-keys.json',
      rawPath: path,
      rawQueryString: '',
      headers: {},
      requestContext: { requestId: randomUUID(), http: { method: 'GET', path } },
      pathParameters: { tenant_id: tenant },
      isBase64Encoded: false,
    },
    { functionName: 'audit-test', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 } as Context,
  );
  return { status: r.statusCode, headers: r.headers ?? {}, json: r.body ? JSON.parse(r.body) : undefined };
}

beforeAll(async () => {
  await createAuditTable(table);
  await createLockedBucket(bucket);
  ({ dataKeyArn } = await createKeys());
  Object.assign(process.env, { ARX_AUDIT_TABLE: table, ARX_AUDIT_BUCKET: bucket });
  api = (await import('../../../lambdas/audit/handlers/api.js')).handler as unknown as Handler;
});

describe('audit key set (F8)', () => {
  const auditKeys = () => new AuditKeys(new DynamoAuditKeyStore(table), new KmsAuditKeyManager(), clock);
  const deps = (keys: AuditKeys) => ({
    events: new DynamoEventStore(table),
    chain: new DynamoChainStore(table),
    blocks: new S3BlockStore(bucket),
    signer: new TenantKeysBlockSigner(keys),
    timestamper: null,
    clock,
    owner: `akeys-${randomUUID()}`,
  });
  const recordAndSeal = async (keys: AuditKeys, n: number) => {
    const rec = new AuditRecorder({
      store: new DynamoEventStore(table),
      cipher: new KmsEnvelopeCipher(dataKeyArn),
      clock,
    });
    for (let i = 0; i < n; i++) {
      clock.advance(1000);
      await rec.record({
        tenant_id: T,
        event_type: 'operation.executed',
        agent_id: 'agt_1',
        action: 'okta:users:read',
        occurred_at: clock.now().toISOString(),
        correlation_id: `c${i}`,
        trace_id: 'a'.repeat(32),
        payload: { action_id: `act_${i}` },
      });
    }
    clock.advance(1000);
    return sealTenant(deps(keys), T);
  };
  const chain = async (height: number) => {
    const blocks = new S3BlockStore(bucket);
    const out = [];
    for (let h = 1; h <= height; h++) out.push({ name: `${h}.json`, text: JSON.stringify(await blocks.get(T, h)) });
    return out;
  };

  it('F8: after rotations of the audit key, every old block still verifies against the published audit key set', async () => {
    const keys = auditKeys();
    expect((await recordAndSeal(keys, 3)).sealed).toMatchObject({ height: 1 });
    const first = await keys.activeKey(T);
    // The key is a tenant-tagged, audit-purpose KMS key behind the tenant's audit alias.
    const kms = new KMSClient({});
    expect((await kms.send(new DescribeKeyCommand({ KeyId: auditKeyAlias(T) }))).KeyMetadata!.Arn).toBe(first.key_arn);
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: first.key_arn }))).Tags).toEqual(
      expect.arrayContaining([
        { TagKey: 'arx:tenant', TagValue: T },
        { TagKey: 'arx:purpose', TagValue: 'audit' },
      ]),
    );

    const r1 = await keys.rotate(T);
    expect(r1.previous_kid).toBe(first.kid);
    expect((await recordAndSeal(auditKeys(), 2)).sealed).toMatchObject({ height: 2 });
    await auditKeys().rotate(T);
    clock.advance(30 * 86_400_000); // long after an SVID key would have left the JWKS
    expect((await recordAndSeal(auditKeys(), 2)).sealed).toMatchObject({ height: 3 });

    const set = await getKeySet(T);
    expect(set.status).toBe(200);
    expect(set.headers['content-type']).toBe('application/jwk-set+json');
    expect(set.json.keys).toHaveLength(3);
    expect(set.json.keys.map((k: { kid: string }) => k.kid)).toContain(first.kid);
    const blocks = await chain(3);
    expect(new Set(blocks.map((b) => (JSON.parse(b.text) as { head: { kid: string } }).head.kid)).size).toBe(3); // three keys signed
    expect(await verifyChain(blocks, { jwks: set.json.keys })).toMatchObject({
      ok: true,
      blocks: 3,
      signatures_checked: true,
    });
    // Only the published set is needed: without the oldest key the first block fails, naming it.
    const withoutFirst = set.json.keys.filter((k: { kid: string }) => k.kid !== first.kid);
    expect(await verifyChain(blocks, { jwks: withoutFirst })).toMatchObject({
      ok: false,
      block: 'blk-000000000001 (1.json)',
      reason: expect.stringMatching(/not in the audit key set/),
    });
  });

  it('F8: rotating the identity (SVID) key does not touch the audit key set', async () => {
    const control = `control-akeys-${sfx}`;
    await createAuditTable(control);
    const svidKeys = new TenantKeys(new DynamoKeyStore(control), new KmsKeyManager(undefined), clock);
    const before = await svidKeys.activeKey(T);
    await svidKeys.rotate(T);
    clock.advance(2 * 3_600_000); // the old SVID key leaves the JWKS
    expect((await svidKeys.jwks(T)).keys.map((k) => k.kid)).not.toContain(before.kid);
    const set = await getKeySet(T);
    expect(set.json.keys.map((k: { kid: string }) => k.kid)).not.toContain(before.kid);
    const height = (await new DynamoChainStore(table).getChain(T))!.height;
    expect(await verifyChain(await chain(height), { jwks: set.json.keys })).toMatchObject({ ok: true });
  });

  it('answers 404 problem+json for a tenant without audit keys or a malformed tenant id, and creates nothing', async () => {
    const none = await getKeySet(`t-none-${sfx}`);
    expect(none.status).toBe(404);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await new DynamoAuditKeyStore(table).load(`t-none-${sfx}`)).keys).toEqual([]);
    expect((await getKeySet('BAD#tenant')).status).toBe(404);
  });
});
