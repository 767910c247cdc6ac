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
 * The YAML policy's `budget` end to end against the local runtime (moto): priced governed actions
 * reserve their price against the budget before they run (a conditional write), so the action that
 * would pass it is forbidden (`over: forbid`) or held for a human (`over: hitl`), and a held action
 * is booked when it is approved and runs.
 */
describe('YAML policy budget (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let globex: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  /** When set, the next connector call waits for it (to interleave two actions deterministically). */
  let gate: Promise<void> | null = null;

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
    okta = await recordingServer(async (c) => {
      const wait = gate;
      gate = null; // only the next call waits
      if (wait) await wait;
      return fake.handler(c);
    });
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

  it('forbids the action whose price would pass a forbid budget (reserved before it runs)', async () => {
    const { arx } = await agent();
    // $0.60, $1.20 of $1.50; a third $0.60 would reach $1.80: its reservation is refused
    for (let i = 0; i < 2; i++) expect((await submit(arx)).status).toBe(200);
    const over = await submit(arx);
    expect(over.status).toBe(403);
    expect(over.json.decision).toMatchObject({
      effect: 'forbid',
      policy: 'okta-reads',
      determining_policies: ['okta-reads/budget'],
      errors: ['budget exceeded'],
    });
    // another agent under the same policy has its own spend and still runs
    expect((await submit((await agent()).arx)).status).toBe(200);
  });

  it('of two concurrent actions against the last of a forbid budget, one runs and the other is refused', async () => {
    const { arx } = await agent();
    expect((await submit(arx)).status).toBe(200); // $0.60 of $1.50: $0.90 left, room for one more $0.60
    // The first action's connector call is held open until the second has been decided, so their
    // reservations interleave: the first holds its $0.60 while the second is decided and reserves.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const before = okta.calls.length;
    gate = held;
    const first = submit(arx);
    await expect.poll(() => okta.calls.length, { timeout: 30_000 }).toBe(before + 1);
    const second = await submit(arx); // decided at $0.60 settled + $0.60 reserved: Cedar permits, the reservation refuses
    release();
    expect(second.status).toBe(403);
    expect(second.json.decision).toMatchObject({
      determining_policies: ['okta-reads/budget'],
      errors: ['budget exceeded'],
    });
    expect((await first).status).toBe(200);
    expect(okta.calls.length).toBe(before + 1); // the refused action never reached the connector
  });

  it('holds the next action for a human once its price would pass a hitl budget, and books it when approved', async () => {
    await push(policy('budget: { period: day, usd: 1, over: hitl }'), globex);
    const { arx } = await agent(globex);
    expect((await submit(arx)).status).toBe(200); // $0.60 of $1
    const heldAction = await submit(arx); // $1.20 would pass $1: held, reserving nothing while it waits
    expect(heldAction.status).toBe(202);
    expect(heldAction.json).toMatchObject({ status: 'pending_approval', approval_id: expect.any(String) });
    expect(heldAction.json.decision).toMatchObject({ effect: 'permit', approval: 'hitl' });
    const approver = await rt.idp.token({ sub: 'mgr', tenant: 'globex', roles: ['approver'] });
    const ok = await call('POST', `/v1/approvals/${heldAction.json.approval_id}/decision`, {
      token: approver,
      body: { decision: 'approve', reason: 'worth it' },
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.json.action.status).toBe('executed');
    // the approved action's $0.60 was booked: the spend is now $1.20, so Cedar holds the next one
    const next = await submit(arx);
    expect(next.status).toBe(202);
    expect(next.json.decision.determining_policies).toEqual(expect.arrayContaining(['okta-reads/budget/users:read*']));
  });
});
