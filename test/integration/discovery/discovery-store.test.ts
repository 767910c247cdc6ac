import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  DynamoDiscoveryControl,
  DynamoDiscoveryStore,
} from '../../../lambdas/discovery/adapters/dynamo-discovery-store.js';
import { DynamoChangeLog } from '../../../lambdas/discovery/adapters/dynamo-change-log.js';
import { parseInventoryChange } from '../../../lambdas/discovery/core/change-log.js';
import { discoveredIdOf, type Evidence } from '../../../lambdas/discovery/core/discovered.js';
import { ingestEvidence } from '../../../lambdas/discovery/core/service.js';
import { ConflictError, ValidationError } from '../../../lambdas/shared/errors.js';
import { RecordingPublisher } from '../../support/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { provisionTestStack } from '../../support/stack.js';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const tenant = `t${randomBytes(3).toString('hex')}`;
const ev = (native: string, over: Partial<Evidence> = {}): Evidence => ({
  platform: 'bedrock',
  platform_native_id: native,
  source: 'list_api',
  origin: 'aws:123456789012:us-east-1',
  confidence: 1,
  observed_at: new Date().toISOString(),
  ...over,
});

describe('DynamoDiscoveryStore (against moto)', () => {
  let env: Record<string, string>;
  let store: DynamoDiscoveryStore;
  let published: RecordingPublisher;

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
    published = new RecordingPublisher();
    store = new DynamoDiscoveryStore(
      env.ARX_INVENTORY_TABLE!,
      env.ARX_CONTROL_TABLE!,
      new Outbox(env.ARX_CONTROL_TABLE!, published, ddb),
      ddb,
    );
  });

  it('keeps SCD-2 versions, updates activity in place, and publishes one inventory.change per version', async () => {
    const deps = { store, clock: systemClock };
    await ingestEvidence(
      deps,
      tenant,
      [ev('A1', { name: 'one', principal_arns: ['arn:aws:iam::123456789012:role/a1'] })],
      'test',
    );
    await ingestEvidence(deps, tenant, [ev('A1', { name: 'one' })], 'test');
    await ingestEvidence(deps, tenant, [ev('A1', { name: 'two' })], 'test');
    const id = discoveredIdOf(tenant, 'bedrock', 'A1');
    const h = await store.history(tenant, id);
    expect(h.map((v) => [v.version, v.name])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    expect(h[0]!.valid_to).toBe(h[1]!.valid_from);
    const mine = published.events.filter((e) => e.detail.agent_id === id);
    expect(mine.map((e) => [e.detailType, e.detail.change, e.detail.version])).toEqual([
      ['inventory.change', 'discovered', 1],
      ['inventory.change', 'updated', 2],
    ]);
    // The existing change-log consumer accepts the discovery change as it is.
    const parsed = parseInventoryChange(mine[0]!.detail);
    expect(parsed).not.toBeNull();
    expect(await new DynamoChangeLog(env.ARX_CONTROL_TABLE!, ddb).recordOnce(parsed!, new Date().toISOString())).toBe(
      true,
    );
    expect(await store.findByPrincipal(tenant, 'arn:aws:iam::123456789012:role/a1')).toBe(id);
  });

  it('refuses a write based on a stale read (optimistic concurrency), writing nothing', async () => {
    await ingestEvidence({ store, clock: systemClock }, tenant, [ev('C1')], 'test');
    const id = discoveredIdOf(tenant, 'bedrock', 'C1');
    const a = (await store.get(tenant, id))!;
    const b = (await store.get(tenant, id))!;
    await store.save(a, { ...a, last_seen: new Date().toISOString() }, null);
    await expect(store.save(b, { ...b, name: 'stale' }, null)).rejects.toBeInstanceOf(ConflictError);
    expect((await store.get(tenant, id))!.name).toBeUndefined();
  });

  it('sees a registered ARX identity for the same (platform, native id) as sanctioned', async () => {
    await ddb.send(
      new PutCommand({
        TableName: env.ARX_INVENTORY_TABLE,
        Item: { pk: `T#${tenant}#NATIVE#bedrock#R1`, sk: 'NATIVE', agent_id: 'agt_R1' },
      }),
    );
    await ingestEvidence({ store, clock: systemClock }, tenant, [ev('R1')], 'test');
    expect(await store.get(tenant, discoveredIdOf(tenant, 'bedrock', 'R1'))).toMatchObject({
      sanctioned: true,
      arx_agent_id: 'agt_R1',
    });
  });

  it('pages with tenant-bound tokens and filters by source, sanctioned and q', async () => {
    const t2 = `${tenant}p`;
    await ingestEvidence(
      { store, clock: systemClock },
      t2,
      ['P1', 'P2', 'P3'].map((n) => ev(n, { name: `page-${n}` })),
      'test',
    );
    await ingestEvidence(
      { store, clock: systemClock },
      t2,
      [ev('S1', { platform: 'aws-iam', source: 'audit_inference', confidence: 0.6 })],
      'test',
    );
    const p1 = await store.list(t2, { platform: 'bedrock' }, 2);
    expect(p1.items).toHaveLength(2);
    const p2 = await store.list(t2, { platform: 'bedrock' }, 2, p1.next_token);
    expect(p2.items).toHaveLength(1);
    expect(p2.next_token).toBeUndefined();
    expect(new Set([...p1.items, ...p2.items].map((a) => a.platform_native_id))).toEqual(new Set(['P1', 'P2', 'P3']));
    expect((await store.list(t2, { source: 'audit_inference' }, 10)).items.map((a) => a.platform_native_id)).toEqual([
      'S1',
    ]);
    expect((await store.list(t2, { q: 'PAGE-p2' }, 10)).items.map((a) => a.platform_native_id)).toEqual(['P2']);
    expect((await store.list(t2, { sanctioned: true }, 10)).items).toEqual([]);
    await expect(store.list(tenant, {}, 2, p1.next_token)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('DynamoDiscoveryControl (against moto)', () => {
  it('finds sources by tenant, by account (for CloudTrail) and by id; keeps per-source status', async () => {
    const { env } = await provisionTestStack();
    const c = new DynamoDiscoveryControl(env.ARX_CONTROL_TABLE!, ddb);
    const at = new Date().toISOString();
    await c.putSource({
      tenant_id: tenant,
      source_id: 'src_A',
      type: 'aws_account',
      account_id: '210987654321',
      regions: ['us-east-1'],
      created_at: at,
      created_by: 'x',
    });
    await c.putSource({
      tenant_id: tenant,
      source_id: 'src_P',
      type: 'push',
      platform: 'uipath',
      regions: [],
      token_hash: 'h',
      created_at: at,
      created_by: 'x',
    });
    await expect(
      c.putSource({
        tenant_id: tenant,
        source_id: 'src_A',
        type: 'push',
        regions: [],
        created_at: at,
        created_by: 'x',
      }),
    ).rejects.toThrow();
    expect((await c.listSources(tenant)).map((s) => s.source_id).sort()).toEqual(['src_A', 'src_P']);
    expect((await c.sourcesForAccount('210987654321')).map((s) => s.tenant_id)).toEqual([tenant]);
    expect((await c.findSource('src_P'))!.tenant_id).toBe(tenant);
    expect((await c.allScannableSources()).map((s) => s.source_id)).toContain('src_A');
    await c.recordStatus(tenant, 'src_A', { at, ok: false, errors: ['AccessDenied'] });
    await c.recordStatus(tenant, 'cloudtrail', { at, ok: true, eventLagMs: 120 });
    await c.recordStatus(tenant, 'cloudtrail', { at, ok: true, eventLagMs: 80 });
    const st = Object.fromEntries((await c.listStatus(tenant)).map((s) => [s.key, s]));
    expect(st.src_A).toMatchObject({ errors: ['AccessDenied'], last_attempt_at: at });
    expect(st.src_A!.last_success_at).toBeUndefined();
    expect(st.cloudtrail).toMatchObject({ events_total: 2, last_event_lag_ms: 80, last_success_at: at });
  });
});
