import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArxClient } from '../../../sdk/index.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from '../actions/support.js';

const POLICY = `# reviewed by the access team
- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low
    "users:suspend": high      # human approval required
    "users:deactivate": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl }
`;
const N = 3;

/**
 * Graduated autonomy end to end against the local runtime (moto): approving the same operation N
 * times yields a recommendation; applying it writes a new bundle version that is not live; once
 * promoted (audited as every promotion), the next call runs without a human.
 */
describe('policy recommendations (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let approver: string;
  let auditor: string;
  let globex: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let arx: ArxClient;
  let liveBundle: string;

  const suspend = async (user = '00u1') =>
    call('POST', '/v1/actions', {
      token: await arx.token(),
      body: { connector: 'okta', operation: 'users:suspend', params: { user_id: user } },
    });
  const recs = (q: string, token = admin) => call('GET', `/v1/policies/recommendations${q}`, { token });

  beforeAll(async () => {
    const fake = fakeOkta('okta-rec-token');
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    approver = await rt.idp.token({ sub: 'pat', tenant: 'acme', roles: ['approver'], email: 'pat@acme.com' } as never);
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    globex = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['admin'] });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-rec-token' } },
        })
      ).status,
    ).toBe(200);
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY },
    });
    expect(pushed.status, JSON.stringify(pushed.json)).toBe(201);
    liveBundle = pushed.json.bundle_id;
    expect((await call('POST', `/v1/policies/bundles/${liveBundle}/promote`, { token: admin })).status).toBe(200);
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `rec-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(reg.status).toBe(201);
    arx = new ArxClient({ apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token });
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
  });

  it('refuses bad parameters with 400 and proposes nothing without evidence', async () => {
    for (const q of [
      '',
      '?min_approvals=0',
      '?min_approvals=2.5',
      '?min_approvals=x',
      '?min_approvals=3&window=30x',
      '?min_approvals=3&window=0d',
      '?min_approvals=3&window=400d',
      '?min_approvals=3&extra=1',
    ]) {
      const r = await recs(q);
      expect(r.status, q).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
    const none = await recs(`?min_approvals=${N}&window=30d`);
    expect(none.status).toBe(200);
    expect(none.json.items).toEqual([]);
  });

  it(`approving the same operation ${N} times yields a recommendation whose applied bundle, once promoted, lets the next call run without a human`, async () => {
    for (let i = 0; i < N; i++) {
      const held = await suspend();
      expect(held.status, JSON.stringify(held.json)).toBe(202);
      const d = await call('POST', `/v1/approvals/${held.json.approval_id}/decision`, {
        token: approver,
        body: { decision: 'approve', reason: `access review ${i}` },
      });
      expect(d.status, JSON.stringify(d.json)).toBe(200);
    }
    // fewer approvals than asked for: nothing
    expect((await recs(`?min_approvals=${N + 1}&window=30d`)).json.items).toEqual([]);

    const list = await recs(`?min_approvals=${N}&window=30d`);
    expect(list.status).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const rec = list.json.items[0];
    expect(rec).toMatchObject({
      kind: 'lower',
      policy: 'okta-access-review',
      operation: 'users:suspend',
      actions: ['okta:users:suspend'],
      from: 'hitl',
      to: 'auto',
      bundle_id: liveBundle,
      evidence: { window: '30d', approvals: N, denials: 0, expired: 0, edited: 0, agents: 1, drifting_agents: [] },
    });
    expect(rec.evidence.approvers).toHaveLength(1);
    expect(rec.evidence.time_to_decision_s.median).toBeGreaterThanOrEqual(0);
    // an auditor reads the same list; an approver may not; another tenant sees none of it
    expect((await recs(`?min_approvals=${N}&window=30d`, auditor)).json.items).toHaveLength(1);
    expect((await recs(`?min_approvals=${N}&window=30d`, approver)).status).toBe(403);
    expect((await recs(`?min_approvals=${N}&window=30d`, globex)).json.items).toEqual([]);
    expect(
      (await call('POST', `/v1/policies/recommendations/${rec.recommendation_id}/apply`, { token: globex })).status,
    ).toBe(404);
    expect(
      (await call('POST', `/v1/policies/recommendations/${rec.recommendation_id}/apply`, { token: auditor })).status,
    ).toBe(403);
    expect((await call('POST', '/v1/policies/recommendations/rec_nope/apply', { token: admin })).status).toBe(404);

    const applied = await call('POST', `/v1/policies/recommendations/${rec.recommendation_id}/apply`, { token: admin });
    expect(applied.status, JSON.stringify(applied.json)).toBe(201);
    expect(applied.json).toMatchObject({
      promoted: false,
      recommendation: { recommendation_id: rec.recommendation_id },
    });
    expect(applied.json.bundle_id).not.toBe(liveBundle);
    const diff = await call('GET', `/v1/policies/bundles/${applied.json.bundle_id}/diff/${liveBundle}`, {
      token: admin,
    });
    expect(diff.status).toBe(200);

    // not live until promoted: the next call still waits for a human
    expect((await suspend('00u2')).status).toBe(202);
    const promoted = await call('POST', `/v1/policies/bundles/${applied.json.bundle_id}/promote`, { token: admin });
    expect(promoted.status).toBe(200);
    // decision points pick up a promoted bundle at their next poll (30 s, in the background): the
    // first call decided under the new bundle runs without a human
    const ran = await eventually(
      async () => {
        const r = await suspend('00u3');
        return r.json.decision?.bundle_version === String(applied.json.version) ? r : null;
      },
      90_000,
      5_000,
    );
    expect(ran.status, JSON.stringify(ran.json)).toBe(200);
    expect(ran.json).toMatchObject({
      status: 'executed',
      decision: { effect: 'permit', approval: 'auto', risk: 'high' },
    });

    // the promotion is audited as every promotion is
    await eventually(async () => {
      const ev = await call('GET', '/v1/audit/events?type=bundle.promoted', { token: auditor });
      return ev.json?.items?.some((e: { payload?: { detail?: { bundle_id?: string } } }) =>
        JSON.stringify(e).includes(applied.json.bundle_id),
      );
    }, 20_000);
    // the recommendation was made against the bundle that is no longer live: applying again is a conflict
    const again = await call('POST', `/v1/policies/recommendations/${rec.recommendation_id}/apply`, { token: admin });
    expect(again.status).toBe(409);
    // and the gate now in force is auto: nothing more to lower
    expect((await recs(`?min_approvals=${N}&window=30d`)).json.items).toEqual([]);
  }, 240_000);
});
