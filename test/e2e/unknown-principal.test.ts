import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';
import { OKTA_YAML } from '../unit/policy/helpers.js';

/**
 * Issue 10 §2.3 as a new user would try it: under the brief's policy, `POST /v1/policies/evaluate`
 * for an agent id the inventory does not hold used to answer permit.
 */
describe('POST /v1/policies/evaluate under the brief policy (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  const evaluate = (id: string, action = 'okta:users:read') =>
    call('POST', '/v1/policies/evaluate', { token: admin, body: { principal: { type: 'Agent', id }, action } });

  beforeAll(async () => {
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: OKTA_YAML },
    });
    expect(pushed.status).toBe(201);
    expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
      200,
    );
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
  });

  it('forbids an agent id that is not in the inventory and says why', async () => {
    const r = await evaluate(`agt_${randomBytes(6).toString('hex')}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      effect: 'forbid',
      reason: 'principal_unknown',
      errors: ['principal is not in the inventory'],
      bundle_version: expect.any(String),
    });
  });

  it('permits a registered agent, and forbids it once it is revoked, naming the status', async () => {
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `reviewer-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(reg.status).toBe(201);
    const id = reg.json.agent_id as string;
    expect((await evaluate(id, 'okta:users:deactivate')).json).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      policy: 'okta-access-review',
    });
    expect(
      (await call('POST', `/v1/identity/agents/${id}/revoke`, { token: admin, body: { reason: 'e2e' } })).status,
    ).toBe(200);
    const d = await eventually(async () => {
      const r = await evaluate(id);
      return r.json.effect === 'forbid' ? r.json : null;
    }, 5000);
    // the revocation list and the inventory both refuse it; the decision names the status
    expect(d.reason).toBe('principal_revoked');
    expect(d.errors).toEqual(['principal is revoked']);
  });
});
