import { describe, expect, it } from 'vitest';
import { compileBundle } from '../../../lambdas/policy/core/bundle.js';
import { cedarContext, decideWith, loadBundle } from '../../../lambdas/policy/core/decide.js';
import { AGENT_DOMAIN_SCHEMA } from '../../../lambdas/policy/core/yaml-policy.js';
import { UNAVAILABLE_DRIFT } from '../../../lambdas/drift/index.js';

const meta = { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-01-01T00:00:00Z', revokedAgentIds: [] };
const doc = (extra: string) => `
- name: okta-review
  connector: okta
  operations: { "users:read*": low, "users:update": medium, "users:suspend": high, "users:delete": critical }
  risk_max: high
  approval: { low: none, medium: auto, high: hitl }
  ${extra}
`;
const compile = (extra: string) => compileBundle({ format: 'yaml', document: doc(extra) }, meta);
const bundle = (extra: string) => {
  const r = compile(extra);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return loadBundle(r.content, 'sha256:x');
};
const req = (context: Record<string, unknown> | undefined, action: string) => ({
  tenantId: 't1',
  principal: { type: 'Agent', id: 'agt_1' },
  action,
  ...(context ? { context } : {}),
});
const drift = (score: number) => ({
  connector: 'okta',
  drift: { score, alert: score >= 0.5, warming_up: false, available: true },
});

describe('context.drift.score in Cedar (YAML drift rule, Cedar policies)', () => {
  it('holds a drifting agent’s risky actions for a human and leaves its low-risk ones alone', () => {
    const b = bundle('drift: { score: 0.5, min_risk: medium, over: hitl }');
    expect(decideWith(b, req(drift(0.4999), 'okta:users:update'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'auto',
    });
    const held = decideWith(b, req(drift(0.5), 'okta:users:update'), 'clear');
    expect(held).toMatchObject({ effect: 'permit', approval: 'hitl', errors: [] });
    expect(held.determining_policies).toContain('okta-review/drift/users:update');
    expect(decideWith(b, req(drift(0.9), 'okta:users:read'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'none',
    });
    // above risk_max stays forbidden whatever the drift
    expect(decideWith(b, req(drift(0), 'okta:users:delete'), 'clear').effect).toBe('forbid');
  });

  it('forbids with over: forbid, and defaults min_risk to high', () => {
    const b = bundle('drift: { score: 0.6, over: forbid }');
    expect(decideWith(b, req(drift(0.7), 'okta:users:suspend'), 'clear')).toMatchObject({
      effect: 'forbid',
      determining_policies: ['okta-review/drift/users:suspend'],
    });
    expect(decideWith(b, req(drift(0.7), 'okta:users:update'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'auto',
    });
    expect(decideWith(b, req(drift(0.2), 'okta:users:suspend'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
    });
  });

  it('fails closed: no drift in the context, or the drift store unreachable, counts as drifting', () => {
    const b = bundle('drift: { score: 0.5, min_risk: medium, over: forbid }');
    expect(decideWith(b, req({ connector: 'okta' }, 'okta:users:update'), 'clear').effect).toBe('forbid');
    expect(decideWith(b, req({ connector: 'okta', ...UNAVAILABLE_DRIFT }, 'okta:users:update'), 'clear').effect).toBe(
      'forbid',
    );
    expect(UNAVAILABLE_DRIFT.drift).toMatchObject({ score: 1, available: false });
  });

  it('passes the score as a Cedar decimal, and only drift.score (another score stays a Long)', () => {
    expect(cedarContext({ drift: { score: 0.25, alert: false }, score: 3 })).toEqual({
      drift: { score: { __extn: { fn: 'decimal', arg: '0.2500' } }, alert: false },
      score: 3,
    });
  });

  it('lets a Cedar policy written by hand read context.drift.score', () => {
    const r = compileBundle(
      {
        format: 'cedar',
        schema: `${AGENT_DOMAIN_SCHEMA}\naction "okta:users:suspend" appliesTo { principal: [Agent], resource: [Connector], context: ActionContext };`,
        policies: `@id("suspend-when-steady")
permit (principal is Agent, action == Action::"okta:users:suspend", resource)
when { context has drift && context.drift has score && context.drift.score.lessThan(decimal("0.3")) };`,
      },
      meta,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const b = loadBundle(r.content, 'sha256:x');
    expect(decideWith(b, req(drift(0.1), 'okta:users:suspend'), 'clear').effect).toBe('permit');
    expect(decideWith(b, req(drift(0.31), 'okta:users:suspend'), 'clear').effect).toBe('forbid');
  });

  it('gives an operation its own gate (graduated autonomy), stricter annotations still winning', () => {
    const b = bundle('gates: { "users:suspend": auto }\n  drift: { score: 0.5, over: hitl }');
    expect(decideWith(b, req(drift(0.1), 'okta:users:suspend'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'auto',
    });
    expect(decideWith(b, req(drift(0.8), 'okta:users:suspend'), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
    });
    expect(decideWith(bundle(''), req(drift(0.1), 'okta:users:suspend'), 'clear').approval).toBe('hitl');
  });

  it('refuses a bad drift rule or a gate on an unknown operation, naming each problem', () => {
    const r = compile('drift: { score: 1.5, min_risk: huge, over: maybe }');
    expect(r.ok).toBe(false);
    const text = JSON.stringify(!r.ok && r.errors);
    expect(text).toContain('score must be at most 1');
    expect(text).toContain('over must be forbid or hitl');
    expect(text).toContain('min_risk');
    const g = compile('gates: { "users:nope": auto }');
    expect(g.ok).toBe(false);
    expect(JSON.stringify(!g.ok && g.errors)).toContain("not one of this policy's operations");
  });
});
