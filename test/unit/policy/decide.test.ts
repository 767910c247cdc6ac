import { describe, it, expect } from 'vitest';
import { compileBundle } from '../../../lambdas/policy/core/bundle.js';
import { decideWith, loadBundle, type LoadedBundle } from '../../../lambdas/policy/core/decide.js';
import { OKTA_YAML } from './helpers.js';

function yamlBundle(revoked: string[] = []): LoadedBundle {
  const r = compileBundle(
    { format: 'yaml', document: OKTA_YAML },
    { tenantId: 't1', bundleId: 'pb_1', version: 7, createdAt: '2026-01-01T00:00:00Z', revokedAgentIds: revoked },
  );
  if (!r.ok) throw new Error('invalid');
  return loadBundle(r.content, 'sha256:x');
}
const req = (action: string, id = 'agt_1') => ({ tenantId: 't1', principal: { type: 'Agent', id }, action });

describe('decideWith', () => {
  const b = yamlBundle(['agt_revoked']);

  it('permits a low-risk read autonomously', () => {
    expect(decideWith(b, req('okta:users:read'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'none',
      risk: 'low',
      determining_policies: ['okta-access-review/users:read*'],
      errors: [],
      bundle_version: '7',
      policy: 'okta-access-review',
    });
  });

  it('permits a medium-risk write with auto approval', () => {
    expect(decideWith(b, req('okta:users:create'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'auto',
      risk: 'medium',
    });
  });

  it('asks for a human on a high-risk deactivate, with channel, timeout and separation of duties', () => {
    expect(decideWith(b, req('okta:users:deactivate'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      hitl: { channel: '#access-reviews', timeout_seconds: 3600, separation_of_duties: true },
    });
  });

  it('forbids an operation above risk_max and one no policy mentions', () => {
    expect(decideWith(b, req('okta:users:delete'), 'clear')).toMatchObject({
      effect: 'forbid',
      risk: 'critical',
      determining_policies: ['okta-access-review/users:delete'],
    });
    expect(decideWith(b, req('github:repos:write'), 'clear')).toMatchObject({
      effect: 'forbid',
      approval: 'none',
      determining_policies: [],
    });
  });

  it('forbids when no bundle is loaded', () => {
    expect(decideWith(null, req('okta:users:read'), 'clear')).toMatchObject({
      effect: 'forbid',
      bundle_version: null,
      errors: ['no policy bundle is loaded for this tenant'],
    });
  });

  it('forbids a revoked principal, and any principal when revocation status is unknown', () => {
    expect(decideWith(b, req('okta:users:read'), 'revoked')).toMatchObject({
      effect: 'forbid',
      errors: ['principal is revoked'],
    });
    expect(decideWith(b, req('okta:users:read'), 'unknown')).toMatchObject({
      effect: 'forbid',
      errors: ['revocation status unavailable'],
    });
  });

  it('uses the bundle Bloom filter when configured for offline revocation', () => {
    const now = Date.parse('2026-01-01T00:10:00Z'); // within the filter's maximum age
    expect(decideWith(b, req('okta:users:read', 'agt_revoked'), 'unknown', { offline: 'bloom', now }).effect).toBe(
      'forbid',
    );
    expect(decideWith(b, req('okta:users:read', 'agt_ok'), 'unknown', { offline: 'bloom', now }).effect).toBe('permit');
  });

  it('forbids when a policy errors even though another permit matches', () => {
    const r = compileBundle(
      {
        format: 'cedar',
        schema:
          'entity Agent = { "level": Long }; entity Connector; action "okta:users:read" appliesTo { principal: [Agent], resource: [Connector] };',
        policies:
          '@id("allow") permit(principal, action, resource);\n@id("guard") forbid(principal, action, resource) when { principal.level * 9223372036854775807 > 3 };',
        entities: [{ uid: { type: 'Agent', id: 'agt_1' }, attrs: { level: 2 }, parents: [] }],
      },
      { tenantId: 't1', bundleId: 'pb', version: 1, createdAt: 'x', revokedAgentIds: [] },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const d = decideWith(loadBundle(r.content, 'd'), req('okta:users:read'), 'clear');
    expect(d.effect).toBe('forbid');
    expect(d.errors[0]).toMatch(/^guard: /);
  });

  it('forbids a request Cedar cannot even parse (a context with a float)', () => {
    const d = decideWith(b, { ...req('okta:users:read'), context: { score: 0.5 } }, 'clear');
    expect(d.effect).toBe('forbid');
    expect(d.errors.length).toBeGreaterThan(0);
  });

  it('takes risk and approval from @risk / @approval annotations in Cedar bundles', () => {
    const r = compileBundle(
      {
        format: 'cedar',
        schema:
          'entity Agent; entity Connector; action "jira:issues:create" appliesTo { principal: [Agent], resource: [Connector] };',
        policies:
          '@id("jira") @risk("medium") @approval("hitl") permit(principal, action == Action::"jira:issues:create", resource);',
      },
      { tenantId: 't1', bundleId: 'pb', version: 1, createdAt: 'x', revokedAgentIds: [] },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(decideWith(loadBundle(r.content, 'd'), req('jira:issues:create'), 'clear')).toMatchObject({
      effect: 'permit',
      risk: 'medium',
      approval: 'hitl',
    });
  });
});
