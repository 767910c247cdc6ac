import { describe, it, expect } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { compileBundle, digestOf } from '../../../lambdas/policy/core/bundle.js';
import { approvalWarnings, decideWith, loadBundle, type LoadedBundle } from '../../../lambdas/policy/core/decide.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { EVERYONE_ACTIVE, LocalSigner, MemorySource, OKTA_YAML } from './helpers.js';

const SCHEMA =
  'entity Agent; entity Connector; action "okta:users:deactivate", "okta:users:read" appliesTo { principal: [Agent], resource: [Connector] };';
const req = (action: string, id = 'agt_1') => ({ tenantId: 't1', principal: { type: 'Agent', id }, action });

function cedarBundle(policies: string): LoadedBundle {
  const r = compileBundle(
    { format: 'cedar', schema: SCHEMA, policies },
    { tenantId: 't1', bundleId: 'pb', version: 1, createdAt: '2026-12-01T00:00:00Z', revokedAgentIds: [] },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return loadBundle(r.content, 'd');
}

describe('F9: the strictest approval mode wins', () => {
  // the review's bundle: a high-risk hitl permit plus a broad approval-none permit that also matches
  const HITL =
    '@id("deactivate") @risk("high") @approval("hitl") permit(principal, action == Action::"okta:users:deactivate", resource);';
  const BROAD = '@id("broad") @approval("none") permit(principal is Agent, action, resource) when { true };';

  it('F9: a broad @approval("none") permit never weakens a matching hitl permit, whatever the policy order', () => {
    for (const text of [`${HITL}\n${BROAD}`, `${BROAD}\n${HITL}`]) {
      const d = decideWith(cedarBundle(text), req('okta:users:deactivate'), 'clear');
      expect(d).toMatchObject({ effect: 'permit', risk: 'high', approval: 'hitl' });
      expect([...d.determining_policies].sort()).toEqual(['broad', 'deactivate']);
    }
  });

  it('F9: an annotated approval weaker than the risk default is raised to the default', () => {
    const d = decideWith(
      cedarBundle(
        '@id("p") @risk("high") @approval("none") permit(principal, action == Action::"okta:users:deactivate", resource);',
      ),
      req('okta:users:deactivate'),
      'clear',
    );
    expect(d).toMatchObject({ effect: 'permit', risk: 'high', approval: 'hitl' });
  });

  it('F9: push warns about bundles whose permits carry different or too weak approvals', () => {
    const b = cedarBundle(
      `${HITL}\n${BROAD}\n@id("weak") @risk("critical") @approval("auto") permit(principal, action == Action::"okta:users:read", resource);`,
    );
    const w = approvalWarnings(b.content);
    expect(w.some((m) => m.includes('different @approval') && m.includes('strictest'))).toBe(true);
    expect(w.some((m) => m.startsWith('weak: @approval("auto") is weaker'))).toBe(true);
    expect(approvalWarnings(cedarBundle(HITL).content)).toEqual([]);
  });
});

describe('F31: internal exception text never reaches an agent', () => {
  it('F31: an engine exception becomes the generic code evaluation_failed', () => {
    const b = cedarBundle('@id("p") permit(principal, action, resource);');
    const broken: LoadedBundle = {
      ...b,
      engine: {
        authorize: () => {
          throw new Error('wasm trap at /var/task/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm');
        },
      } as unknown as LoadedBundle['engine'],
    };
    const d = decideWith(broken, req('okta:users:read'), 'clear');
    expect(d).toMatchObject({ effect: 'forbid', errors: ['evaluation_failed'], reason: 'evaluation_failed' });
    expect(JSON.stringify(d)).not.toMatch(/wasm|var\/task/);
  });

  it('F31: an engine failure caught inside the engine is reported as evaluation_failed, request validation messages stay', () => {
    const b = cedarBundle('@id("p") permit(principal, action, resource);');
    const failing = (msg: string): LoadedBundle => ({
      ...b,
      engine: { authorize: () => ({ type: 'failure', errors: [msg] }) } as unknown as LoadedBundle['engine'],
    });
    expect(
      decideWith(
        failing('evaluation failed: RuntimeError: unreachable at cedar_wasm_bg.wasm:0x1f3a2'),
        req('okta:users:read'),
        'clear',
      ).errors,
    ).toEqual(['evaluation_failed']);
    expect(decideWith(failing('context attribute `n` is a float'), req('okta:users:read'), 'clear').errors).toEqual([
      'request rejected: context attribute `n` is a float',
    ]);
  });

  it('F31: a decision point failure is logged and answered with decision_point_failure', async () => {
    const signer = new LocalSigner();
    const source = new MemorySource();
    const r = compileBundle(
      { format: 'yaml', document: OKTA_YAML },
      { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-12-01T00:00:00Z', revokedAgentIds: [] },
    );
    if (!r.ok) throw new Error('invalid');
    const digest = digestOf(r.content);
    source.set('t1', { ...r.content, digest, signature: await signer.sign('t1', digest) });
    const logged: unknown[] = [];
    const pdp = new TenantBundlePdp({
      source,
      signer,
      revocation: { status: async () => 'clear' },
      principals: {
        status: () => {
          throw new Error('AccessDeniedException: arn:aws:iam::123456789012:role/arx-policy-api is not authorized');
        },
      },
      clock: new ManualClock(),
      onError: (e) => logged.push(e.error),
    });
    const d = await pdp.decide(req('okta:users:read'));
    expect(d).toMatchObject({ effect: 'forbid', errors: ['decision_point_failure'], reason: 'decision_point_failure' });
    expect(JSON.stringify(d)).not.toMatch(/AccessDenied|arn:aws/);
    expect(String(logged[0])).toMatch(/AccessDeniedException/);
  });
});

describe('F20: offline bloom mode has a maximum age', () => {
  const b = (() => {
    const r = compileBundle(
      { format: 'yaml', document: OKTA_YAML },
      { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-12-01T10:00:00Z', revokedAgentIds: ['agt_old'] },
    );
    if (!r.ok) throw new Error('invalid');
    return loadBundle(r.content, 'd');
  })();

  it('F20: an agent revoked after the push is forbidden once the filter is past its maximum age', () => {
    const fresh = Date.parse('2026-12-01T10:30:00Z');
    const stale = Date.parse('2026-12-01T11:00:01Z');
    // within the age the filter stands in for the list (it cannot know agt_new)
    expect(decideWith(b, req('okta:users:read', 'agt_new'), 'unknown', { offline: 'bloom', now: fresh }).effect).toBe(
      'permit',
    );
    expect(decideWith(b, req('okta:users:read', 'agt_old'), 'unknown', { offline: 'bloom', now: fresh }).effect).toBe(
      'forbid',
    );
    expect(decideWith(b, req('okta:users:read', 'agt_new'), 'unknown', { offline: 'bloom', now: stale })).toMatchObject(
      { effect: 'forbid', reason: 'revocation_unavailable' },
    );
    expect(
      decideWith(b, req('okta:users:read', 'agt_new'), 'unknown', {
        offline: 'bloom',
        now: fresh,
        bloomMaxAgeMs: 60_000,
      }).effect,
    ).toBe('forbid');
  });

  it('F20: the decision point applies its configured maximum age with its own clock', async () => {
    const signer = new LocalSigner();
    const source = new MemorySource();
    const r = compileBundle(
      { format: 'yaml', document: OKTA_YAML },
      { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-12-01T10:00:00Z', revokedAgentIds: [] },
    );
    if (!r.ok) throw new Error('invalid');
    const digest = digestOf(r.content);
    source.set('t1', { ...r.content, digest, signature: await signer.sign('t1', digest) });
    const clock = new ManualClock(Date.parse('2026-12-01T10:00:30Z'));
    const pdp = new TenantBundlePdp({
      source,
      signer,
      revocation: { status: async () => 'unknown' },
      principals: EVERYONE_ACTIVE,
      clock,
      offlineRevocation: 'bloom',
      bloomMaxAgeMs: 60_000,
    });
    expect((await pdp.decide(req('okta:users:read'))).effect).toBe('permit');
    clock.advance(60_000);
    expect(await pdp.decide(req('okta:users:read'))).toMatchObject({
      effect: 'forbid',
      reason: 'revocation_unavailable',
    });
  });
});
