import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { cedar, type EntityJson } from '../../../lambdas/policy/core/cedar.js';
import { PolicyEngine, indexPolicies, slotsInUse } from '../../../lambdas/policy/core/engine.js';

const require = createRequire(import.meta.url);
const { build } = require(fileURLToPath(new URL('../../../../shared/bench/cedar-workload.cjs', import.meta.url))) as {
  build(
    p: number,
    e: number,
    r: number,
  ): {
    meta: { ents: EntityJson[] };
    policies: string;
    reqs: {
      principal: { type: string; id: string };
      action: { type: string; id: string };
      resource: { type: string; id: string };
      context: Record<string, never>;
      slice: EntityJson[];
    }[];
  };
};

describe('PolicyEngine', () => {
  it('decides exactly like raw cedar-wasm over the whole set on the reference workload', () => {
    const w = build(300, 2000, 400);
    const engine = new PolicyEngine({ policies: indexPolicies(w.policies), entities: w.meta.ents });
    cedar.preparsePolicySet('engine-test-all', { staticPolicies: w.policies });
    try {
      let evaluated = 0;
      for (const q of w.reqs) {
        const raw = cedar.statefulIsAuthorized({
          principal: q.principal,
          action: q.action,
          resource: q.resource,
          context: q.context,
          preparsedPolicySetId: 'engine-test-all',
          entities: q.slice,
        });
        const got = engine.authorize({
          principal: q.principal,
          action: q.action,
          resource: q.resource,
          context: q.context,
        });
        if (raw.type !== 'success' || got.type !== 'response') throw new Error('unexpected failure');
        // ids differ (@id vs policyN) but decision and the number of determining/erroring policies must agree
        expect([got.decision, got.reason.length, got.errors.length]).toEqual([
          raw.response.decision,
          raw.response.diagnostics.reason.length,
          raw.response.diagnostics.errors.length,
        ]);
        evaluated += got.evaluated;
      }
      // the index keeps the evaluated set far below the whole set
      expect(evaluated / w.reqs.length).toBeLessThan(300 / 3);
    } finally {
      engine.dispose();
      cedar.preparsePolicySet('engine-test-all', { staticPolicies: {} });
    }
  });

  it('frees its preparsed sets on dispose and fails closed afterwards', () => {
    const before = slotsInUse();
    const engine = new PolicyEngine({ policies: indexPolicies('@id("p") permit(principal, action, resource);') });
    const req = {
      principal: { type: 'Agent', id: 'a' },
      action: { type: 'Action', id: 'x:y:z' },
      resource: { type: 'Connector', id: 'x' },
    };
    expect(engine.authorize(req)).toMatchObject({ type: 'response', decision: 'allow', reason: ['p'] });
    expect(slotsInUse()).toBeGreaterThan(before);
    engine.dispose();
    expect(slotsInUse()).toBe(before);
    expect(engine.authorize(req).type).toBe('failure');
  });

  it('pre-builds the static parts another engine used (hot swap warm-up)', () => {
    const text = '@id("g") permit(principal, action == Action::"okta:users:read", resource);';
    const a = new PolicyEngine({ policies: indexPolicies(text) });
    a.authorize({
      principal: { type: 'Agent', id: 'a' },
      action: { type: 'Action', id: 'okta:users:read' },
      resource: { type: 'Connector', id: 'okta' },
    });
    const b = new PolicyEngine({ policies: indexPolicies(text) });
    b.warm(a.staticKeys());
    expect(b.staticKeys()).toEqual(a.staticKeys());
    a.dispose();
    b.dispose();
  });

  it('honours action groups supplied with the request without caching them', () => {
    const engine = new PolicyEngine({
      policies: indexPolicies('@id("w") permit(principal, action in Action::"write", resource);'),
    });
    const req = {
      principal: { type: 'Agent', id: 'a' },
      action: { type: 'Action', id: 'jira:issues:create' },
      resource: { type: 'Connector', id: 'jira' },
    };
    expect(engine.authorize(req)).toMatchObject({ decision: 'deny' });
    const withGroup = {
      ...req,
      entities: [
        { uid: { type: 'Action', id: 'jira:issues:create' }, attrs: {}, parents: [{ type: 'Action', id: 'write' }] },
      ],
    };
    expect(engine.authorize(withGroup)).toMatchObject({ decision: 'allow', reason: ['w'] });
    expect(engine.authorize(req)).toMatchObject({ decision: 'deny' });
    engine.dispose();
  });

  it('skips a policy whose leading condition is certainly false, but keeps one that would error', () => {
    const text = [
      '@id("ok-only") permit(principal, action, resource) when { principal.platform == "okta" && principal.level > 1 };',
      '@id("needs-tier") forbid(principal, action, resource) when { principal.tier == "gold" };',
    ].join('\n');
    const entities: EntityJson[] = [
      { uid: { type: 'Agent', id: 'gh' }, attrs: { platform: 'github', level: 5 }, parents: [] },
      { uid: { type: 'Agent', id: 'ok' }, attrs: { platform: 'okta', level: 5, tier: 'gold' }, parents: [] },
    ];
    const engine = new PolicyEngine({ policies: indexPolicies(text), entities });
    const req = (id: string) => ({
      principal: { type: 'Agent', id },
      action: { type: 'Action', id: 'x:y:z' },
      resource: { type: 'Connector', id: 'x' },
    });
    // gh: "ok-only" is dropped by its guard; "needs-tier" reads a missing attribute, so Cedar must see it and report the error
    const gh = engine.authorize(req('gh'));
    expect(gh).toMatchObject({ type: 'response', decision: 'deny', evaluated: 1 });
    if (gh.type === 'response') expect(gh.errors.map((e) => e.policyId)).toEqual(['needs-tier']);
    expect(engine.authorize(req('ok'))).toMatchObject({ decision: 'deny', reason: ['needs-tier'], evaluated: 2 });
    engine.dispose();
  });
});
