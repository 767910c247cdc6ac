import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArxClient } from '../../../sdk/index.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { api, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from '../actions/support.js';

const policy = (budget: string) => `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: low
  ${budget}
`;

/**
 * The YAML policy's `budget` end to end against the local runtime (moto): the agent's spend is
 * pushed past the budget by priced governed actions, and the next action is forbidden (`over:
 * forbid`) or held for a human (`over: hitl`) by the compiled Cedar policy.
 */
describe('YAML policy budget (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let globex: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;

  const push = async (doc: string, token = admin) => {
    const pushed = await call('POST', '/v1/policies/bundles', { token, body: { format: 'yaml', document: doc } });
    expect(pushed.status, JSON.stringify(pushed.json)).toBe(201);
    const promoted = await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token });
    expect(promoted.status).toBe(200);
    return pushed.json.bundle_id as string;
  };
  const agent = async (token = admin) => {
    const r = await call('POST', '/v1/identity/agents', {
      token,
      body: {
        platform: 'langchain',
        platform_native_id: `spender-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(r.status).toBe(201);
    return {
      id: r.json.agent_id as string,
      arx: new ArxClient({ apiUrl: rt.url, bootstrapToken: r.json.bootstrap_token }),
    };
  };
  const submit = async (a: ArxClient) =>
    call('POST', '/v1/actions', {
      token: await a.token(),
      body: { connector: 'okta', operation: 'users:read', params: {} },
    });

  beforeAll(async () => {
    const fake = fakeOkta('okta-budget-token');
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    globex = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['admin'] });
    for (const token of [admin, globex]) {
      expect(
        (
          await call('PUT', '/v1/connectors/okta', {
            token,
            body: { config: { base_url: okta.url }, secret: { api_token: 'okta-budget-token' } },
          })
        ).status,
      ).toBe(200);
      // Each read costs $0.60 (a fractional amount: the context carries it as a Cedar decimal).
      const put = await call('PUT', '/v1/usage/prices', {
        token,
        body: { models: [], tools: [{ tool: 'okta:users:read', unit_cost: 0.6, effective_from: '2026-01-01' }] },
      });
      expect(put.status).toBe(200);
    }
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
  });

  it('refuses a bad budget with 400 and a message per problem, keeping the live bundle', async () => {
    const live = await push(policy('budget: { period: day, usd: 1.5, over: forbid }'));
    const bad = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: policy('budget: { period: week, usd: -3, over: maybe }') },
    });
    expect(bad.status).toBe(400);
    const text = JSON.stringify(bad.json);
    expect(text).toContain('period must be day or month');
    expect(text).toContain('usd must be greater than 0');
    expect(text).toContain('over must be forbid or hitl');
    expect(live).toMatch(/^pb_/);
    // the next test runs under the bundle pushed here: the refused one changed nothing
  });

  it('forbids the next action once the spend passes a forbid budget', async () => {
    const { arx } = await agent();
    // $0.60, $1.20, $1.80: each was under $1.50 when it was decided
    for (let i = 0; i < 3; i++) expect((await submit(arx)).status).toBe(200);
    const over = await submit(arx);
    expect(over.status).toBe(403);
    expect(over.json.decision).toMatchObject({ effect: 'forbid', determining_policies: ['okta-reads/budget'] });
    // another agent under the same policy has its own spend and still runs
    expect((await submit((await agent()).arx)).status).toBe(200);
  });

  it('holds the next action for a human once the spend passes a hitl budget', async () => {
    await push(policy('budget: { period: day, usd: 1, over: hitl }'), globex);
    const { arx } = await agent(globex);
    expect((await submit(arx)).status).toBe(200); // $0.60 of $1
    expect((await submit(arx)).status).toBe(200); // decided at $0.60, now $1.20
    const held = await submit(arx);
    expect(held.status).toBe(202);
    expect(held.json).toMatchObject({ status: 'pending_approval', approval_id: expect.any(String) });
    expect(held.json.decision).toMatchObject({ effect: 'permit', approval: 'hitl' });
  });
});
