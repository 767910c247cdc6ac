import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { ManualClock } from '../../support/clock.js';
import { RecordingPublisher } from '../../support/events.js';
import { DynamoChainStore } from '../../../lambdas/audit/adapters/dynamo-chain-store.js';
import { DynamoDestinationStore } from '../../../lambdas/audit/adapters/dynamo-destination-store.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { TenantKeysBlockSigner } from '../../../lambdas/audit/adapters/deps.js';
import { DynamoAuditKeyStore, KmsAuditKeyManager } from '../../../lambdas/audit/adapters/audit-keys.js';
import { AuditKeys } from '../../../lambdas/audit/core/audit-keys.js';
import { S3BlockStore } from '../../../lambdas/audit/adapters/s3-block-store.js';
import {
  S3DestinationWriter,
  destinationKey,
  handshakeKey,
} from '../../../lambdas/audit/adapters/s3-destination-writer.js';
import { addDestination } from '../../../lambdas/audit/core/read.js';
import { HttpTimestamper } from '../../../lambdas/audit/adapters/tsa-client.js';
import { AuditRecorder } from '../../../lambdas/audit/core/record.js';
import { blockKey, eventProof } from '../../../lambdas/audit/core/block.js';
import { sealTenant, sealAll, type SealerDeps } from '../../../lambdas/audit/core/sealer.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { verifyInclusion } from '../../../lambdas/audit/core/merkle.js';
import { startLocalTsa, type LocalTsa } from '../../unit/audit/fixtures.js';
import { createAuditTable, createKeys, createLockedBucket, s3, suffix } from './env.js';

// Spawns openssl / tsx processes: allow for a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

const sfx = suffix();
const table = `audit-seal-${sfx}`;
const bucket = `audit-seal-${sfx}`;
const custBucket = `audit-cust-${sfx}`;
let keys: { dataKeyArn: string };
let tsa: LocalTsa;
// The local TSA stamps with the real clock, and the verifier bounds genTime against sealed_at.
const clock = new ManualClock(Date.now());
// the production block signer: each tenant's audit key (KMS, registered in the audit table)
const auditKeys = new AuditKeys(new DynamoAuditKeyStore(table), new KmsAuditKeyManager(), clock);
/** The tenant's audit key set, as GET /tenants/{t}/.well-known/audit-keys.json serves it. */
const jwksOf = async (tenant: string) => (await auditKeys.keySet(tenant)).keys;
// The audit table's ports, for the assertions.
const events = new DynamoEventStore(table);
const chains = new DynamoChainStore(table);
const destinations = new DynamoDestinationStore(table);

beforeAll(async () => {
  await createAuditTable(table);
  await createLockedBucket(bucket);
  keys = await createKeys();
  tsa = await startLocalTsa();
});
afterAll(async () => tsa?.close());

function deps(over: Partial<SealerDeps> = {}): SealerDeps {
  return {
    events: new DynamoEventStore(table),
    chain: new DynamoChainStore(table),
    blocks: new S3BlockStore(bucket),
    signer: new TenantKeysBlockSigner(auditKeys),
    timestamper: new HttpTimestamper(tsa.url, 20_000), // generous: openssl per request on a loaded CI box
    clock,
    destinations: { store: new DynamoDestinationStore(table), writer: new S3DestinationWriter() },
    publisher: new RecordingPublisher(),
    owner: `test-${suffix()}`,
    ...over,
  };
}

async function record(tenant: string, n: number, action = 'okta:users:deactivate'): Promise<string[]> {
  const rec = new AuditRecorder({
    store: new DynamoEventStore(table),
    cipher: new KmsEnvelopeCipher(keys.dataKeyArn),
    clock,
  });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    clock.advance(10);
    const { event_id } = await rec.record({
      tenant_id: tenant,
      event_type: 'operation.executed',
      agent_id: 'agt_1',
      action,
      target: `okta:user:${i}`,
      decision: 'permit',
      occurred_at: clock.now().toISOString(),
      correlation_id: `cor_${i}`,
      trace_id: 'c'.repeat(32),
      payload: { i, password: 'hunter2' },
    });
    ids.push(event_id);
  }
  return ids;
}

async function chainSources(tenant: string, height: number) {
  const blocks = new S3BlockStore(bucket);
  const out = [];
  for (let h = 1; h <= height; h++) out.push({ name: `${h}.json`, text: JSON.stringify(await blocks.get(tenant, h)) });
  return out;
}

describe('sealTenant (moto: DynamoDB, S3 Object Lock, KMS; openssl TSA)', () => {
  it('seals pending events into signed, timestamped, locked blocks that arx-verify accepts', async () => {
    const t = `t-seal-a-${sfx}`;
    const d = deps();
    const first = await record(t, 5);
    const r1 = await sealTenant(d, t);
    expect(r1.sealed).toEqual({ height: 1, events: 5, anchored: true });
    await record(t, 3);
    const r2 = await sealTenant(d, t);
    expect(r2.sealed).toEqual({ height: 2, events: 3, anchored: true });
    expect((await sealTenant(d, t)).sealed).toBeNull(); // nothing pending

    const out = await verifyChain(await chainSources(t, 2), {
      jwks: await jwksOf(t),
      tsaTrustedCertsPem: [tsa.caPem],
      eventId: first[2],
    });
    expect(out).toMatchObject({ ok: true, blocks: 2, events: 8, tree_size: 8, anchored: 2, signatures_checked: true });

    const stored = await events.getEvent(t, first[2]!);
    expect(stored).toMatchObject({ block_height: 1, leaf_index: 2 });
    expect(await events.countPending(t)).toBe(0);
    const chain = await chains.getChain(t);
    expect(chain).toMatchObject({ height: 2, tree_size: 8, unanchored: [], marking_height: null });
    expect((d.publisher as RecordingPublisher).events.map((e) => e.detailType)).toEqual([
      'audit.block.sealed',
      'audit.block.sealed',
    ]);

    // Proof for an event of block 1 verifies against block 1's signed root.
    const b1 = (await d.blocks.get(t, 1))!;
    const p = eventProof(b1, 2);
    expect(() =>
      verifyInclusion(
        p.leaf_index,
        p.tree_size,
        Buffer.from(p.leaf_hash, 'base64'),
        p.proof.map((x) => Buffer.from(x, 'base64')),
        Buffer.from(b1.head.root, 'base64'),
      ),
    ).not.toThrow();
  }, 120_000);

  it('locks block versions: COMPLIANCE retention shows on the object and deleting the version is refused', async () => {
    const t = `t-seal-b-${sfx}`;
    await record(t, 2);
    await sealTenant(deps(), t);
    const c = s3();
    const key = blockKey(t, 1);
    const head = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now());
    const versions = await c.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    const v = versions.Versions![0]!.VersionId!;
    await expect(c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: v }))).rejects.toThrow();
    await expect(
      c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: v, BypassGovernanceRetention: true })),
    ).rejects.toThrow();
    expect((await c.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }))).Versions).toHaveLength(1);
  });

  it('keeps sealing through a TSA outage (un-anchored, lag in the chain record) and anchors later as a new locked version', async () => {
    const t = `t-seal-c-${sfx}`;
    const d = deps();
    tsa.setDown(true);
    try {
      await record(t, 2);
      expect((await sealTenant(d, t)).sealed).toEqual({ height: 1, events: 2, anchored: false });
      clock.advance(5000);
      await record(t, 1);
      expect((await sealTenant(d, t)).sealed).toEqual({ height: 2, events: 1, anchored: false });
      const chain = await chains.getChain(t);
      expect(chain).toMatchObject({ unanchored: [1, 2], last_anchored_at: null });
      expect(chain!.oldest_unanchored_at).not.toBeNull();
      expect(await verifyChain(await chainSources(t, 2), { jwks: await jwksOf(t) })).toMatchObject({
        ok: true,
        anchored: 0,
        unanchored: 2,
      });
    } finally {
      tsa.setDown(false);
    }
    const r = await sealTenant(d, t);
    expect(r.anchoredRetries).toBe(2);
    expect(await chains.getChain(t)).toMatchObject({ unanchored: [], oldest_unanchored_at: null });
    expect(
      await verifyChain(await chainSources(t, 2), { jwks: await jwksOf(t), tsaTrustedCertsPem: [tsa.caPem] }),
    ).toMatchObject({ ok: true, anchored: 2, unanchored: 0 });
    const versions = await s3().send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: blockKey(t, 1) }));
    expect(versions.Versions).toHaveLength(2);
  }, 120_000);

  it('queues a failed customer-destination write and replays it once the destination is writable', async () => {
    const t = `t-seal-d-${sfx}`;
    const d = deps();
    const dest = await addDestination({ store: destinations, clock }, t, {
      bucket: custBucket,
      prefix: `arx/${t}`,
      role_arn: 'arn:aws:iam::123456789012:role/arx-audit-writer',
    });
    expect(dest).toMatchObject({
      status: 'pending_verification',
      external_id: expect.stringMatching(/^arx-[\w-]{32}$/),
    });
    expect(S3DestinationWriter.sessionPolicy(dest)).toContain(`arn:aws:s3:::${custBucket}/arx/${t}/*`);
    await record(t, 2);
    await sealTenant(d, t); // customer bucket does not exist yet → queued
    expect(await destinations.queueDepth(t)).toBe(1);
    await s3().send(new CreateBucketCommand({ Bucket: custBucket }));
    const r = await sealTenant(d, t);
    expect(r.replayed).toBe(1);
    expect(await destinations.queueDepth(t)).toBe(0);
    const got = await s3().send(new HeadObjectCommand({ Bucket: custBucket, Key: destinationKey(dest, 1) }));
    expect(got.ContentLength).toBeGreaterThan(0);
    // The handshake object was written through the assumed role before the first block (F16).
    const hs = await s3().send(new GetObjectCommand({ Bucket: custBucket, Key: handshakeKey(dest) }));
    expect(JSON.parse(await hs.Body!.transformToString())).toMatchObject({
      arx_destination: dest.destination_id,
      tenant_id: t,
    });
    expect((await destinations.list(t))[0]).toMatchObject({
      status: 'verified',
      verified_at: expect.any(String),
    });
  });

  it('finishes marking a committed block after a crash and never seals an event twice', async () => {
    const t = `t-seal-e-${sfx}`;
    const d = deps();
    await record(t, 3);
    // Crash between commit and marking: events stay pending but the head says marking_height = 1.
    const crashing = {
      ...d,
      events: Object.assign(Object.create(d.events), {
        markSealed: async () => {
          throw new Error('crash');
        },
      }) as DynamoEventStore,
    };
    await expect(sealTenant(crashing, t)).rejects.toThrow('crash');
    expect(await events.countPending(t)).toBe(3);
    const r = await sealTenant(d, t);
    expect(r.sealed).toBeNull();
    expect(await events.countPending(t)).toBe(0);
    expect(await verifyChain(await chainSources(t, 1), { jwks: await jwksOf(t) })).toMatchObject({
      ok: true,
      events: 3,
    });
  });

  it('seals every tenant independently in sealAll, and a competing sealer holding the lease makes this one skip', async () => {
    const a = `t-seal-f-${sfx}`;
    await record(a, 1);
    const other = deps();
    expect(
      await other.chain.tryLease(
        a,
        'someone-else',
        new Date(clock.now().getTime() + 30_000).toISOString(),
        clock.now().toISOString(),
      ),
    ).toBe(true);
    expect((await sealTenant(deps(), a)).sealed).toBeNull();
    await other.chain.releaseLease(a, 'someone-else');
    const results = await sealAll(deps());
    expect(results.find((r) => r.tenant_id === a)?.sealed).toMatchObject({ height: 1, events: 1 });
  });
});
