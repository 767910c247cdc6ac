import { describe, expect, it } from 'vitest';
import { compileBundle, type BundleInput, type SignedBundle } from '../../../lambdas/policy/core/bundle.js';
import {
  Recommendations,
  windowSeconds,
  withGate,
  type Recommendation,
} from '../../../lambdas/policy/core/recommendations.js';
import type { DecidedApproval, DriftContext } from '../../../lambdas/shared/ports.js';
import { ValidationError } from '../../../lambdas/shared/errors.js';

const NOW = new Date('2026-06-30T12:00:00Z');
const meta = {
  tenantId: 't1',
  bundleId: 'pb_live',
  version: 4,
  createdAt: '2026-06-01T00:00:00Z',
  revokedAgentIds: [],
};
const DOC = `# keep me
policies:
  - name: okta-review
    connector: okta
    operations: { "users:suspend": high, "users:read*": low }
    gates: { "users:suspend": auto }   # lowered earlier
`;
const live = (doc: string): SignedBundle => {
  const r = compileBundle({ format: 'yaml', document: doc }, meta);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return { ...r.content, digest: 'sha256:x', signature: { kid: 'k', alg: 'ES256', sig: 's' } };
};
const approval = (i: number, status: DecidedApproval['status'], agent = 'agt_1'): DecidedApproval => ({
  approval_id: `apr_${i}`,
  agent_id: agent,
  action: 'okta:users:suspend',
  policy: 'okta-review',
  risk: 'high',
  status,
  created_at: `2026-06-2${i % 9}T10:00:00Z`,
  decided_at: `2026-06-2${i % 9}T10:05:00Z`,
  decided_by: 'pat',
});

/** In-memory ports (the adapters are tested on moto in test/integration/policy/recommendations.test.ts). */
function setup(doc: string, decided: DecidedApproval[], drifting: string[] = []) {
  const kept = new Map<string, Recommendation>();
  const pushed: BundleInput[] = [];
  const recs = new Recommendations({
    approvals: { decided: async (_t, since) => decided.filter((a) => a.created_at >= since) },
    bundles: { live: async () => live(doc) },
    store: {
      put: async (_t, rs) => {
        for (const r of rs) kept.set(r.recommendation_id, r);
      },
      get: async (_t, id) => kept.get(id) ?? null,
    },
    push: async (_t, input) => {
      pushed.push(input);
      return { bundle_id: 'pb_new', version: 5, digest: 'sha256:y' };
    },
    drift: {
      context: async (_t, id): Promise<DriftContext> => ({
        drift: {
          score: drifting.includes(id) ? 0.8 : 0,
          alert: drifting.includes(id),
          warming_up: false,
          available: true,
        },
      }),
    },
    clock: { now: () => NOW },
  });
  return { recs, pushed };
}

describe('Recommendations (graduated autonomy)', () => {
  it('proposes raising a lowered gate back to hitl when a human denies it', async () => {
    const { recs } = setup(DOC, [approval(1, 'approved'), approval(2, 'denied')]);
    const [r] = await recs.list('t1', 1, '30d');
    expect(r).toMatchObject({ kind: 'raise', operation: 'users:suspend', from: 'auto', to: 'hitl' });
    expect(r!.evidence).toMatchObject({ approvals: 1, denials: 1, approvers: ['pat'] });
    expect(r!.evidence.time_to_decision_s).toEqual({ median: 300, max: 300 });
  });

  it('proposes raising it when an agent that ran it is drifting', async () => {
    const { recs } = setup(DOC, [approval(1, 'approved', 'agt_d')], ['agt_d']);
    const [r] = await recs.list('t1', 1, '30d');
    expect(r).toMatchObject({ kind: 'raise', to: 'hitl', evidence: { drifting_agents: ['agt_d'] } });
  });

  it('does not lower a gate with a denial, an expiry or a drifting agent, nor count approvals outside the window', async () => {
    const hitl = DOC.replace('    gates: { "users:suspend": auto }   # lowered earlier\n', '');
    const ok = [approval(1, 'approved'), approval(2, 'approved'), approval(3, 'approved')];
    expect(await setup(hitl, ok).recs.list('t1', 3, '30d')).toHaveLength(1);
    expect(await setup(hitl, [...ok, approval(4, 'denied')]).recs.list('t1', 3, '30d')).toEqual([]);
    expect(await setup(hitl, [...ok, approval(4, 'expired')]).recs.list('t1', 3, '30d')).toEqual([]);
    expect(await setup(hitl, ok, ['agt_1']).recs.list('t1', 3, '30d')).toEqual([]);
    // 2026-06-21..23 are more than 5 days before NOW
    expect(await setup(hitl, ok).recs.list('t1', 3, '5d')).toEqual([]);
  });

  it('applies by pushing the live YAML with the gate set, comments kept, and refuses an unknown id', async () => {
    const { recs, pushed } = setup(DOC, [approval(1, 'approved'), approval(2, 'denied')]);
    const [r] = await recs.list('t1', 1, '30d');
    const out = await recs.apply('t1', r!.recommendation_id);
    expect(out).toMatchObject({ bundle_id: 'pb_new', version: 5, promoted: false });
    const doc = (pushed[0] as { document: string }).document;
    expect(doc).toContain('# keep me');
    expect(doc).toMatch(/"users:suspend": hitl/);
    await expect(recs.apply('t1', 'rec_unknown')).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('sets a gate on a policy list given as a bare sequence too', () => {
    const out = withGate('- name: a\n  connector: okta\n  operations: { "x:y": high }\n', 'a', 'x:y', 'auto');
    expect(out).toContain('gates:');
    expect(out).toMatch(/x:y"?: auto/);
  });

  it('reads windows as days or hours and refuses anything else', () => {
    expect(windowSeconds('30d')).toBe(30 * 86400);
    expect(windowSeconds('12h')).toBe(12 * 3600);
    for (const w of ['0d', '366d', '30', 'd', '1w', '-1d']) expect(() => windowSeconds(w), w).toThrow(ValidationError);
  });
});
