import { describe, it, expect } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import type { InventoryReader, PrincipalInventoryRecord } from '../../../lambdas/shared/ports.js';
import { compileBundle, digestOf, type SignedBundle } from '../../../lambdas/policy/core/bundle.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { CachedPrincipalStatus, judgePrincipal } from '../../../lambdas/policy/core/principal-status.js';
import { LocalSigner, MemorySource, OKTA_YAML } from './helpers.js';

/** An inventory in memory that counts reads and can be made unreachable. */
class MemoryInventory implements InventoryReader {
  readonly agents = new Map<string, PrincipalInventoryRecord>();
  reads = 0;
  failing = false;
  async principal(tenantId: string, agentId: string): Promise<PrincipalInventoryRecord | null> {
    this.reads++;
    if (this.failing) throw new Error('ProvisionedThroughputExceededException: table arx-inventory is throttled');
    return this.agents.get(`${tenantId}|${agentId}`) ?? null;
  }
}

async function signed(signer: LocalSigner, tenantId = 't1'): Promise<SignedBundle> {
  const r = compileBundle(
    { format: 'yaml', document: OKTA_YAML },
    { tenantId, bundleId: 'pb_1', version: 1, createdAt: new Date().toISOString(), revokedAgentIds: [] },
  );
  if (!r.ok) throw new Error('invalid');
  const digest = digestOf(r.content);
  return { ...r.content, digest, signature: await signer.sign(tenantId, digest) };
}

async function setup() {
  const signer = new LocalSigner();
  const source = new MemorySource();
  source.set('t1', await signed(signer));
  const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
  const inventory = new MemoryInventory();
  const pdp = new TenantBundlePdp({
    source,
    signer,
    revocation: { status: async () => 'clear' },
    principals: new CachedPrincipalStatus(inventory, clock, { orphanGraceS: 3600 }),
    clock,
  });
  const ask = (id: string, action = 'okta:users:read') =>
    pdp.decide({ tenantId: 't1', principal: { type: 'Agent', id }, action });
  return { pdp, inventory, clock, ask };
}

describe('judgePrincipal', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  it.each([
    ['suspended', 'principal_suspended'],
    ['revoked', 'principal_revoked'],
    ['terminated', 'principal_terminated'],
  ] as const)('refuses a %s principal with %s', (status, reason) => {
    expect(judgePrincipal({ status }, now)).toMatchObject({ ok: false, reason });
  });

  it('refuses a principal that is not in the inventory', () => {
    expect(judgePrincipal(null, now)).toEqual({
      ok: false,
      reason: 'principal_unknown',
      detail: 'principal is not in the inventory',
    });
  });

  it('keeps an orphan decidable during the grace period and refuses it after', () => {
    const rec = { status: 'active' as const, owner_status: 'orphaned' as const, orphaned_at: '2026-12-01T09:30:00Z' };
    expect(judgePrincipal(rec, now, 3600)).toEqual({ ok: true });
    expect(judgePrincipal(rec, new Date('2026-12-01T10:30:01Z'), 3600)).toMatchObject({
      ok: false,
      reason: 'principal_orphaned',
    });
    expect(judgePrincipal({ status: 'active', owner_status: 'orphaned' }, now, 3600)).toMatchObject({
      ok: false,
      reason: 'principal_orphaned',
    });
  });

  it('refuses a discovered agent that was never sanctioned, and an unrecognised status', () => {
    expect(judgePrincipal({ status: 'active', sanctioned: false }, now)).toMatchObject({
      ok: false,
      reason: 'principal_unsanctioned',
    });
    expect(judgePrincipal({ status: 'paused' as never }, now)).toMatchObject({
      ok: false,
      reason: 'principal_status_unavailable',
    });
  });
});

describe('TenantBundlePdp and the inventory (issue 10 §2.3)', () => {
  it('forbids an agent id that is not in the inventory, and says why', async () => {
    const { ask } = await setup();
    const d = await ask('agt_nobody');
    expect(d).toMatchObject({
      effect: 'forbid',
      reason: 'principal_unknown',
      errors: ['principal is not in the inventory'],
      bundle_version: '1',
    });
  });

  it('permits an active agent and forbids it within the cache window once it is suspended', async () => {
    const { ask, inventory, clock } = await setup();
    inventory.agents.set('t1|agt_1', { status: 'active' });
    expect((await ask('agt_1')).effect).toBe('permit');
    inventory.agents.set('t1|agt_1', { status: 'suspended' });
    clock.advance(500);
    expect(await ask('agt_1')).toMatchObject({
      effect: 'forbid',
      reason: 'principal_suspended',
      errors: ['principal is suspended'],
    });
  });

  it('reads the inventory at most once per agent per 500 ms window', async () => {
    const { ask, inventory, clock } = await setup();
    inventory.agents.set('t1|agt_1', { status: 'active' });
    for (let i = 0; i < 5; i++) await ask('agt_1');
    expect(inventory.reads).toBe(1);
    clock.advance(500);
    await ask('agt_1');
    expect(inventory.reads).toBe(2);
  });

  it('forbids when the inventory cannot be read and keeps the exception text out of the decision', async () => {
    const { ask, inventory } = await setup();
    inventory.agents.set('t1|agt_1', { status: 'active' });
    inventory.failing = true;
    const d = await ask('agt_1');
    expect(d).toMatchObject({ effect: 'forbid', reason: 'principal_status_unavailable' });
    expect(JSON.stringify(d)).not.toMatch(/Throughput|arx-inventory/);
  });

  it('forbids a terminated agent even for a low-risk read, before any policy is evaluated', async () => {
    const { ask, inventory } = await setup();
    inventory.agents.set('t1|agt_1', { status: 'terminated' });
    expect(await ask('agt_1')).toMatchObject({
      effect: 'forbid',
      reason: 'principal_terminated',
      determining_policies: [],
    });
  });
});
