import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '../../support/clock.js';
import { compileBundle, digestOf, type BundleContent, type SignedBundle } from '../../../lambdas/policy/core/bundle.js';
import { decideWith, loadBundle } from '../../../lambdas/policy/core/decide.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { EVERYONE_ACTIVE, LocalSigner, MemorySource, OKTA_YAML } from './helpers.js';

const SCHEMA = `entity Group; entity Agent in [Group] = { "level": Long, "platform": String };
entity Connector;
action "okta:users:read", "okta:users:deactivate", "github:repos:write" appliesTo { principal: [Agent], resource: [Connector], context: { "score": Long } };`;
const ENTITIES = [0, 1, 2, 3].map((i) => ({
  uid: { type: 'Agent', id: `a${i}` },
  attrs: { level: i, platform: i % 2 ? 'okta' : 'github' },
  parents: [{ type: 'Group', id: `g${i % 2}` }],
}));
const ACTIONS = ['okta:users:read', 'okta:users:deactivate', 'github:repos:write'];

/** Random policies over a small vocabulary; some conditions overflow at runtime (Cedar errors). */
const policyArb: fc.Arbitrary<P> = fc.record({
  effect: fc.constantFrom('permit', 'forbid'),
  principal: fc.constantFrom('principal', 'principal == Agent::"a1"', 'principal in Group::"g0"', 'principal is Agent'),
  action: fc.constantFrom('action', ...ACTIONS.map((a) => `action == Action::"${a}"`)),
  cond: fc.constantFrom(
    '',
    'when { principal.level > 1 }',
    'when { context.score < 50 }',
    'unless { principal.platform == "okta" }',
    'when { principal.level * 9223372036854775807 > 1 }',
  ),
});
interface P {
  effect: 'permit' | 'forbid';
  principal: string;
  action: string;
  cond: string;
}
const text = (ps: P[]) =>
  ps.map((p, i) => `@id("p${i}") ${p.effect}(${p.principal}, ${p.action}, resource) ${p.cond};`).join('\n');

function bundle(ps: P[]): BundleContent {
  const r = compileBundle(
    { format: 'cedar', schema: SCHEMA, policies: text(ps), entities: ENTITIES },
    { tenantId: 't1', bundleId: 'pb', version: 1, createdAt: 'x', revokedAgentIds: [] },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.content;
}
const reqArb = fc.record({
  agent: fc.integer({ min: 0, max: 3 }),
  action: fc.constantFrom(...ACTIONS),
  score: fc.integer({ min: 0, max: 100 }),
});
const decide = (c: BundleContent, r: { agent: number; action: string; score: number }) => {
  const lb = loadBundle(c, 'd');
  try {
    return decideWith(
      lb,
      {
        tenantId: 't1',
        principal: { type: 'Agent', id: `a${r.agent}` },
        action: r.action,
        resource: { type: 'Connector', id: 'c' },
        context: { score: r.score },
      },
      'clear',
    );
  } finally {
    lb.engine.dispose();
  }
};

describe('PDP invariants (property tests)', () => {
  it('adding a forbid never turns a forbid into a permit', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { minLength: 1, maxLength: 6 }), policyArb, reqArb, (ps, extra, r) => {
        const before = decide(bundle(ps), r);
        const after = decide(bundle([...ps, { ...extra, effect: 'forbid' }]), r);
        return !(before.effect === 'forbid' && after.effect === 'permit');
      }),
      { numRuns: 40 },
    );
  });

  it('a forbid that errors plus a matching permit is a forbid', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 4 }), reqArb, (ps, r) => {
        const withBoth: P[] = [
          ...ps,
          { effect: 'permit', principal: 'principal', action: 'action', cond: '' },
          {
            effect: 'forbid',
            principal: 'principal',
            action: 'action',
            cond: 'when { principal.level + 9223372036854775807 + 1 > 0 }',
          },
        ];
        const d = decide(bundle(withBoth), r);
        // the forbid overflows for every agent (Cedar alone would skip it and permit)
        return d.effect === 'forbid' && d.errors.some((e) => e.startsWith(`p${withBoth.length - 1}:`));
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a stripped, wrong or tampered signature and keeps the previous bundle live', async () => {
    const signer = new LocalSigner();
    const other = new LocalSigner('local-key'); // same kid, different key
    const mk = async (doc: string, v: number): Promise<SignedBundle> => {
      const r = compileBundle(
        { format: 'yaml', document: doc },
        { tenantId: 't1', bundleId: `pb_${v}`, version: v, createdAt: 'x', revokedAgentIds: [] },
      );
      if (!r.ok) throw new Error('invalid');
      const digest = digestOf(r.content);
      return { ...r.content, digest, signature: await signer.sign('t1', digest) };
    };
    const good = await mk(OKTA_YAML, 1);
    const next = await mk('- name: open\n  connector: okta\n  operations: { "users:*": low }\n', 2);
    const corruptions: ((b: SignedBundle) => Promise<unknown>)[] = [
      async (b) => {
        const { signature: _s, ...rest } = b;
        return rest;
      },
      async (b) => ({ ...b, signature: await other.sign('t1', b.digest) }),
      async (b) => ({ ...b, signature: { ...b.signature, kid: 'someone-else' } }),
      async (b) => ({ ...b, policies: b.policies.map((p) => ({ ...p, text: p.text.replace('low', 'high') })) }),
      async (b) => ({ ...b, risk: [] }),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: corruptions.length - 1 }),
        fc.integer({ min: 0, max: 200 }),
        async (which, byte) => {
          const source = new MemorySource();
          const pdp = new TenantBundlePdp({
            source,
            signer,
            revocation: { status: async () => 'clear' },
            principals: EVERYONE_ACTIVE,
            clock: new ManualClock(),
          });
          source.set('t1', good);
          expect(
            (
              await pdp.decide({
                tenantId: 't1',
                principal: { type: 'Agent', id: 'a' },
                action: 'okta:users:deactivate',
              })
            ).approval,
          ).toBe('hitl');
          let bad = (await corruptions[which]!(next)) as SignedBundle; // encoded by MemorySource
          if (which === 0 && byte % 2 === 0) {
            // also: flip one byte of a valid signature
            const sig = Buffer.from(next.signature.sig, 'base64');
            sig[byte % sig.length]! ^= 0x01;
            bad = { ...next, signature: { ...next.signature, sig: sig.toString('base64') } };
          }
          source.set('t1', bad);
          await pdp.refresh('t1');
          const d = await pdp.decide({
            tenantId: 't1',
            principal: { type: 'Agent', id: 'a' },
            action: 'okta:users:deactivate',
          });
          expect(d).toMatchObject({ effect: 'permit', approval: 'hitl', bundle_version: '1' });
          expect(pdp.lastError('t1')).toMatch(/signature|signed|digest/);
        },
      ),
      { numRuns: 25 },
    );
  });
});
