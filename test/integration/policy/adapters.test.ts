import { describe, it, expect, beforeAll } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { s3Client, documentClient } from '../../../lambdas/shared/aws.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { ManualClock } from '../../support/clock.js';
import { RecordingPublisher } from '../../support/events.js';
import { DynamoRevocationList, CachedRevocationChecker } from '../../../lambdas/shared/revocation.js';
import { ValidationError } from '../../../lambdas/shared/errors.js';
import { S3BundleStore, BundleExistsError } from '../../../lambdas/policy/adapters/s3-bundles.js';
import type { TenantBundleSigner } from '../../../lambdas/policy/core/signing.js';
import {
  DynamoEnforcementLog,
  DynamoVersionCounter,
  RevocationTableIds,
} from '../../../lambdas/policy/adapters/dynamo-control.js';
import { PolicyService, EnforcementRecorder } from '../../../lambdas/policy/core/service.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { BloomFilter, bloomItem } from '../../../lambdas/policy/core/bloom.js';
import { encodeBundle } from '../../../lambdas/policy/core/bundle.js';
import { CachedPrincipalStatus } from '../../../lambdas/policy/core/principal-status.js';
import { DynamoInventoryReader } from '../../../lambdas/policy/adapters/dynamo-inventory-reader.js';
import { inventoryOf, policyResources, revocationEntry, tenantSignerOf } from './fixtures.js';
import { ACCESS_REVIEW_SHORT_SLACK } from '../../support/fixtures.js';

const YAML = ACCESS_REVIEW_SHORT_SLACK;
const YAML2 = `
- name: okta-access-review
  connector: okta
  operations: { "users:read*": low, "users:deactivate": high, "users:create": medium }
  risk_max: high
`;

describe('policy adapters against the emulator', () => {
  let r: Awaited<ReturnType<typeof policyResources>>;
  let store: S3BundleStore;
  let signer: TenantBundleSigner;
  let events: RecordingPublisher;
  let service: PolicyService;
  let drl: DynamoRevocationList;
  const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    r = await policyResources('adapters');
    store = new S3BundleStore(r.bucket);
    signer = tenantSignerOf(r).bundles;
    events = new RecordingPublisher();
    drl = new DynamoRevocationList(r.revocationTable);
    service = new PolicyService({
      repo: store,
      versions: new DynamoVersionCounter(r.controlTable),
      signer,
      revoked: new RevocationTableIds(drl, systemClock),
      events,
      clock: systemClock,
    });
  });

  it('pushes a signed bundle, versions it per tenant and bakes revoked agents into its Bloom filter', async () => {
    await drl.revoke(revocationEntry(tenant, 'agt_gone'));
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    const b = await service.push(tenant, { format: 'yaml', document: YAML2 });
    expect(b.version).toBe(a.version + 1);
    const stored = await store.get(tenant, a.bundle_id);
    expect(stored?.digest).toBe(a.digest);
    expect(await signer.verify(tenant, stored!.digest, stored!.signature)).toBe(true);
    expect(new BloomFilter(stored!.revoked_bloom).mightContain(bloomItem(tenant, 'agt_gone'))).toBe(true);
  });

  it('stores nothing for an invalid bundle', async () => {
    const before = await new DynamoVersionCounter(r.controlTable).next(`${tenant}-probe`);
    await expect(
      service.push(`${tenant}-probe`, {
        format: 'cedar',
        schema: 'entity A;',
        policies: 'permit(principal is B, action, resource);',
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await new DynamoVersionCounter(r.controlTable).next(`${tenant}-probe`)).toBe(before + 1);
  });

  it('never overwrites a stored bundle', async () => {
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    const b = (await store.get(tenant, a.bundle_id))!;
    await expect(store.put(b)).rejects.toBeInstanceOf(BundleExistsError);
  });

  it('promotes, publishes bundle.promoted, and serves the live bundle with a conditional GET', async () => {
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    expect(
      await service.promote(tenant, a.bundle_id, 'admin@example.com', { correlation_id: 'c1', trace_id: 't1' }),
    ).toEqual({ live_bundle_id: a.bundle_id, version: a.version });
    expect(events.events.at(-1)).toMatchObject({
      detailType: 'bundle.promoted',
      detail: { tenant_id: tenant, bundle_id: a.bundle_id },
    });
    const first = await store.fetchLive(tenant, null);
    expect(first.status).toBe('ok');
    if (first.status !== 'ok') return;
    expect(await store.fetchLive(tenant, first.etag)).toEqual({ status: 'not-modified' });
    expect(await store.fetchLive(`${tenant}-none`, null)).toEqual({ status: 'none' });
  });

  it('refuses to promote a bundle from another tenant or a tampered one', async () => {
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    await expect(
      service.promote(`${tenant}-other`, a.bundle_id, 'x', { correlation_id: 'c', trace_id: 't' }),
    ).rejects.toMatchObject({ status: 404 });
    const b = (await store.get(tenant, a.bundle_id))!;
    const forged = {
      ...b,
      bundle_id: 'pb_forged',
      policies: b.policies.map((p) => ({ ...p, text: p.text.replace('permit', 'permit') })),
      risk: [],
    };
    await s3Client().send(
      new PutObjectCommand({ Bucket: r.bucket, Key: store.keyOf(tenant, 'pb_forged'), Body: encodeBundle(forged) }),
    );
    await expect(
      service.promote(tenant, 'pb_forged', 'x', { correlation_id: 'c', trace_id: 't' }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('diffs two stored bundles policy by policy', async () => {
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    const b = await service.push(tenant, { format: 'yaml', document: YAML2 });
    const d = await service.diff(tenant, b.bundle_id, a.bundle_id);
    expect(d.added.map((p) => p.id)).toEqual(['okta-access-review/users:create']);
    expect(d.removed).toEqual([]);
    expect(d.risk_changed).toBe(true);
  });

  it("decides with the live bundle from S3, verified with the tenant's own public key, and refuses a revoked agent", async () => {
    const a = await service.push(tenant, { format: 'yaml', document: YAML });
    await service.promote(tenant, a.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' });
    const clock = new ManualClock(Date.now());
    await inventoryOf(r).register(tenant, 'agt_1');
    const principals = new CachedPrincipalStatus(new DynamoInventoryReader(r.inventoryTable), clock);
    const pdp = new TenantBundlePdp({
      source: store,
      signer,
      revocation: new CachedRevocationChecker(drl, clock, 1000),
      principals,
      clock,
    });
    expect(
      await pdp.decide({
        tenantId: tenant,
        principal: { type: 'Agent', id: 'agt_1' },
        action: 'okta:users:deactivate',
      }),
    ).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      bundle_version: String(a.version),
      hitl: { channel: '#access-reviews' },
    });
    await drl.revoke(revocationEntry(tenant, 'agt_1'));
    clock.advance(1000);
    expect(
      await pdp.decide({ tenantId: tenant, principal: { type: 'Agent', id: 'agt_1' }, action: 'okta:users:read' }),
    ).toMatchObject({ effect: 'forbid', errors: ['principal is revoked'] });
  });

  it('records EnforcementEvents in the control table and publishes policy.decision', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
    const pub = new RecordingPublisher();
    const rec = new EnforcementRecorder(new DynamoEnforcementLog(r.controlTable, clock), pub, clock);
    await rec.record(
      { tenantId: tenant, principal: { type: 'Agent', id: 'agt_9' }, action: 'okta:users:read', context: { q: 1 } },
      {
        effect: 'permit',
        approval: 'none',
        risk: 'low',
        determining_policies: ['p'],
        errors: [],
        evaluation_ms: 0.2,
        bundle_version: '3',
      },
      { pep_topology: 'remote', correlation_id: 'corr-1', trace_id: 'trace-1' },
    );
    const q = await documentClient().send(
      new QueryCommand({
        TableName: r.controlTable,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': `T#${tenant}#POLICY#ENF#AGENT#agt_9` },
      }),
    );
    expect(q.Items).toHaveLength(1);
    expect(q.Items![0]).toMatchObject({
      action_name: 'okta:users:read',
      decision: 'permit',
      pep_topology: 'remote',
      pep_version: 'arx-pdp/1',
      bundle_version: '3',
    });
    expect(q.Items![0]!.context_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pub.events[0]).toMatchObject({
      detailType: 'policy.decision',
      detail: { tenant_id: tenant, correlation_id: 'corr-1', effect: 'permit' },
    });
    const counter = await documentClient().send(
      new GetCommand({ TableName: r.controlTable, Key: { pk: `T#${tenant}#POLICY#VERSION`, sk: 'COUNTER' } }),
    );
    expect(Number(counter.Item?.version)).toBeGreaterThan(0);
  });
});
