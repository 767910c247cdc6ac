import { describe, it, expect } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { compileBundle, digestOf, type SignedBundle } from '../../../lambdas/policy/core/bundle.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import type { RevocationState } from '../../../lambdas/shared/ports.js';
import { EVERYONE_ACTIVE, LocalSigner, MemorySource, OKTA_YAML } from './helpers.js';

async function signed(signer: LocalSigner, document: string, version: number, tenantId = 't1'): Promise<SignedBundle> {
  const r = compileBundle(
    { format: 'yaml', document },
    { tenantId, bundleId: `pb_${version}`, version, createdAt: '2026-01-01T00:00:00Z', revokedAgentIds: [] },
  );
  if (!r.ok) throw new Error('invalid');
  const digest = digestOf(r.content);
  return { ...r.content, digest, signature: await signer.sign(tenantId, digest) };
}
const READ_ONLY = '- name: read-only\n  connector: okta\n  operations: { "users:read*": low }\n';
const req = (action: string, tenantId = 't1') => ({ tenantId, principal: { type: 'Agent', id: 'agt_1' }, action });

function setup(rev: () => RevocationState = () => 'clear') {
  const signer = new LocalSigner();
  const source = new MemorySource();
  const clock = new ManualClock();
  const events: string[] = [];
  const pdp = new TenantBundlePdp({
    source,
    signer,
    revocation: { status: async () => rev() },
    principals: EVERYONE_ACTIVE,
    clock,
    pollMs: 30_000,
    onEvent: (e) => events.push(`${e.type}:${e.detail}`),
  });
  return { signer, source, clock, pdp, events };
}

describe('TenantBundlePdp', () => {
  it('forbids every request for a tenant that has no live bundle', async () => {
    const { pdp } = setup();
    expect(await pdp.decide(req('okta:users:read'))).toMatchObject({ effect: 'forbid', bundle_version: null });
  });

  it('forbids when the bundle source is unreachable before the first load', async () => {
    const { pdp, source } = setup();
    source.failing = true;
    expect((await pdp.decide(req('okta:users:read'))).effect).toBe('forbid');
  });

  it('loads the live bundle on first use and re-checks the manifest only after the poll interval', async () => {
    const { pdp, source, clock, signer } = setup();
    source.set('t1', await signed(signer, OKTA_YAML, 1));
    expect((await pdp.decide(req('okta:users:deactivate'))).effect).toBe('permit');
    const fetches = source.fetches;
    clock.advance(29_000);
    await pdp.decide(req('okta:users:read'));
    expect(source.fetches).toBe(fetches);
    source.set('t1', await signed(signer, READ_ONLY, 2));
    clock.advance(2_000);
    await pdp.decide(req('okta:users:read')); // triggers the background refresh
    await pdp.refresh('t1');
    expect(await pdp.decide(req('okta:users:deactivate'))).toMatchObject({ effect: 'forbid', bundle_version: '2' });
  });

  it('keeps tenants apart: one tenant never decides with another tenant bundle', async () => {
    const { pdp, source, signer } = setup();
    source.set('t1', await signed(signer, OKTA_YAML, 1));
    source.set('t2', await signed(signer, OKTA_YAML, 1, 't1')); // a t1 bundle published under t2
    expect((await pdp.decide(req('okta:users:read', 't1'))).effect).toBe('permit');
    expect(await pdp.decide(req('okta:users:read', 't2'))).toMatchObject({ effect: 'forbid', bundle_version: null });
    expect(pdp.lastError('t2')).toBe('bundle belongs to another tenant');
  });

  it('refuses a principal whose revocation is seen, within the checker window', async () => {
    let state: RevocationState = 'clear';
    const { pdp, source, signer } = setup(() => state);
    source.set('t1', await signed(signer, OKTA_YAML, 1));
    expect((await pdp.decide(req('okta:users:read'))).effect).toBe('permit');
    state = 'revoked';
    expect(await pdp.decide(req('okta:users:read'))).toMatchObject({
      effect: 'forbid',
      errors: ['principal is revoked'],
    });
    state = 'unknown';
    expect((await pdp.decide(req('okta:users:read'))).effect).toBe('forbid');
  });

  it('records every decision through the recorder', async () => {
    const signer = new LocalSigner();
    const source = new MemorySource();
    source.set('t1', await signed(signer, OKTA_YAML, 1));
    const seen: string[] = [];
    const pdp = new TenantBundlePdp({
      source,
      signer,
      revocation: { status: async () => 'clear' },
      principals: EVERYONE_ACTIVE,
      clock: new ManualClock(),
      recorder: { record: async (r, d, m) => void seen.push(`${r.action}:${d.effect}:${m.pep_topology}`) },
    });
    await pdp.decide(req('okta:users:read'));
    await pdp.decide(req('okta:users:delete'));
    expect(seen).toEqual(['okta:users:read:permit:in-process', 'okta:users:delete:forbid:in-process']);
  });
});
