import { describe, it, expect, beforeAll } from 'vitest';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { ManualClock } from '../../support/clock.js';
import { RecordingPublisher } from '../../support/events.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import { S3BundleStore } from '../../../lambdas/policy/adapters/s3-bundles.js';
import { DynamoVersionCounter, RevocationTableIds } from '../../../lambdas/policy/adapters/dynamo-control.js';
import { DynamoInventoryReader } from '../../../lambdas/policy/adapters/dynamo-inventory-reader.js';
import { PolicyService } from '../../../lambdas/policy/core/service.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { CachedPrincipalStatus } from '../../../lambdas/policy/core/principal-status.js';
import { createDecisionPoint } from '../../../lambdas/policy/pdp.js';
import { inventoryOf, policyResources, suffix, tenantSignerOf } from './fixtures.js';
import { ACCESS_REVIEW_SHORT } from '../../support/fixtures.js';

const YAML = ACCESS_REVIEW_SHORT;

describe('DynamoInventoryReader and the decision point against the emulator (issue 10 §2.3)', () => {
  let r: Awaited<ReturnType<typeof policyResources>>;
  let inv: ReturnType<typeof inventoryOf>;
  let pdp: TenantBundlePdp;
  const clock = new ManualClock(Date.now());
  const tenant = `t-${suffix()}`;
  const ask = (id: string, tenantId = tenant) =>
    pdp.decide({ tenantId, principal: { type: 'Agent', id }, action: 'okta:users:read' });

  beforeAll(async () => {
    r = await policyResources('principals');
    inv = inventoryOf(r);
    const store = new S3BundleStore(r.bucket);
    const signer = tenantSignerOf(r).bundles;
    const drl = new DynamoRevocationList(r.revocationTable);
    const service = new PolicyService({
      repo: store,
      versions: new DynamoVersionCounter(r.controlTable),
      signer,
      revoked: new RevocationTableIds(drl, systemClock),
      events: new RecordingPublisher(),
      clock: systemClock,
    });
    const b = await service.push(tenant, { format: 'yaml', document: YAML });
    await service.promote(tenant, b.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' });
    pdp = new TenantBundlePdp({
      source: store,
      signer,
      revocation: new CachedRevocationChecker(drl, clock),
      principals: new CachedPrincipalStatus(new DynamoInventoryReader(r.inventoryTable), clock, { orphanGraceS: 3600 }),
      clock,
    });
  });

  it('reads status, owner binding and sanctioned from the inventory item discovery writes', async () => {
    await inv.register(tenant, 'agt_read');
    expect(await new DynamoInventoryReader(r.inventoryTable).principal(tenant, 'agt_read')).toEqual({
      status: 'active',
      owner_status: 'live',
    });
    expect(await new DynamoInventoryReader(r.inventoryTable).principal(tenant, 'agt_absent')).toBeNull();
  });

  it('forbids an agent that is not in the inventory and one of another tenant', async () => {
    await inv.register(`${tenant}-b`, 'agt_b');
    expect(await ask('agt_ghost')).toMatchObject({ effect: 'forbid', reason: 'principal_unknown' });
    expect(await ask('agt_b')).toMatchObject({ effect: 'forbid', reason: 'principal_unknown' });
  });

  it.each(['suspended', 'revoked', 'terminated'] as const)(
    'permits an active agent and forbids it once it is %s, naming the status',
    async (status) => {
      const id = `agt_${status}`;
      await inv.register(tenant, id);
      expect((await ask(id)).effect).toBe('permit');
      await inv.set(tenant, id, { status });
      clock.advance(500);
      expect(await ask(id)).toMatchObject({
        effect: 'forbid',
        reason: `principal_${status}`,
        errors: [`principal is ${status}`],
      });
    },
  );

  it('forbids an agent orphaned past the grace period before the sweeper suspends it', async () => {
    const rec = await inv.register(tenant, 'agt_orphan');
    const orphanedAt = new Date(clock.now().getTime() - 1800_000).toISOString();
    await inv.set(tenant, 'agt_orphan', { owner: { ...rec.owner, status: 'orphaned', orphaned_at: orphanedAt } });
    expect((await ask('agt_orphan')).effect).toBe('permit'); // 30 minutes into a 1 h grace
    clock.advance(1800_001);
    expect(await ask('agt_orphan')).toMatchObject({ effect: 'forbid', reason: 'principal_orphaned' });
  });

  it('forbids a discovered agent that was never sanctioned', async () => {
    await inv.register(tenant, 'agt_shadow', { sanctioned: false } as never);
    expect(await ask('agt_shadow')).toMatchObject({ effect: 'forbid', reason: 'principal_unsanctioned' });
  });

  it('forbids every agent when the inventory table cannot be read', async () => {
    const broken = new TenantBundlePdp({
      source: new S3BundleStore(r.bucket),
      signer: tenantSignerOf(r).bundles,
      revocation: { status: async () => 'clear' },
      principals: new CachedPrincipalStatus(new DynamoInventoryReader(`${r.inventoryTable}-missing`), clock),
      clock,
    });
    await inv.register(tenant, 'agt_fine');
    const d = await broken.decide({
      tenantId: tenant,
      principal: { type: 'Agent', id: 'agt_fine' },
      action: 'okta:users:read',
    });
    expect(d).toMatchObject({ effect: 'forbid', reason: 'principal_status_unavailable' });
    expect(JSON.stringify(d)).not.toMatch(/ResourceNotFound|missing/);
  });

  it('the in-process decision point the actions path builds (createDecisionPoint) reads the inventory from ARX_INVENTORY_TABLE', async () => {
    Object.assign(process.env, {
      ARX_BUNDLE_BUCKET: r.bucket,
      ARX_CONTROL_TABLE: r.controlTable,
      ARX_SIGNING_KEY_ARN: r.keyArn,
      ARX_REVOCATION_TABLE: r.revocationTable,
      ARX_INVENTORY_TABLE: r.inventoryTable,
    });
    const inProcess = createDecisionPoint({ recorder: false });
    await inv.register(tenant, 'agt_actions');
    expect(
      (
        await inProcess.decide({
          tenantId: tenant,
          principal: { type: 'Agent', id: 'agt_actions' },
          action: 'okta:users:read',
        })
      ).effect,
    ).toBe('permit');
    expect(
      await inProcess.decide({
        tenantId: tenant,
        principal: { type: 'Agent', id: 'agt_unregistered' },
        action: 'okta:users:read',
      }),
    ).toMatchObject({
      effect: 'forbid',
      reason: 'principal_unknown',
    });
  });
});
