import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeKey } from '../../lambdas/shared/topology-types.js';
import { TOPOLOGY } from '../../lambdas/topology.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { checkedResponses } from '../support/contract.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';

const POLICY = `
- name: contract-okta
  connector: okta
  operations:
    "users:read*": low
    "users:deactivate": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;

/**
 * A happy path per capability through the local runtime (real handlers, authorizer and moto):
 * `api()` parses every response with the schema its route declares (test/support/contract.ts),
 * so a handler answering something its contract does not describe fails here, naming the route.
 */
describe('The API answers what its routes declare (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let auditor: string;
  let approver: string;
  let agentId: string;
  let svid: string;
  const tenant = 'acme';
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();

  beforeAll(async () => {
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant, roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant, roles: ['auditor'] });
    approver = await rt.idp.token({ sub: 'mgr', tenant, roles: ['approver'], email: 'mgr@example.com' });
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `contract-${randomBytes(3).toString('hex')}`,
        name: 'contract',
        owner: { oidc_sub: 'owner-1' },
        cohort: 'contract-cohort',
      },
    });
    expect(reg.status).toBe(201);
    agentId = reg.json.agent_id;
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: reg.json.bootstrap_token,
      subject_token_type: 'urn:arx:params:oauth:token-type:bootstrap',
      audience: 'arx',
    }).toString();
    const tok = await call('POST', '/v1/identity/token', {
      raw: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(tok.status).toBe(200);
    svid = tok.json.access_token;
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
  });

  it('platform and identity: health, the OpenAPI document, agents, keys, token errors', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).json.components.schemas.ApprovalMetadata).toBeDefined();
    expect((await call('GET', `/v1/identity/agents/${agentId}`, { token: auditor })).status).toBe(200);
    expect((await call('GET', '/v1/identity/agents/orphans', { token: admin })).status).toBe(200);
    expect(
      (
        await call('POST', `/v1/identity/agents/${agentId}/owner`, {
          token: admin,
          body: { owner: { oidc_sub: 'owner-2', email: 'o2@example.com' } },
        })
      ).status,
    ).toBe(200);
    expect((await call('POST', '/v1/identity/keys/rotate', { token: admin })).status).toBe(200);
    expect(
      (await call('POST', '/v1/identity/leavers', { token: admin, body: { oidc_sub: 'nobody-here' } })).json.orphaned,
    ).toEqual([]);
    expect((await call('GET', '/v1/credentials/roles', { token: admin })).status).toBe(200);
    expect((await call('GET', '/v1/credentials/token-endpoints', { token: admin })).status).toBe(200);
    expect((await call('GET', `/tenants/${tenant}/.well-known/jwks.json`)).status).toBe(200);
    const bad = await call('POST', '/v1/identity/token', {
      raw: 'grant_type=nope',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('unsupported_grant_type');
  });

  it('policy: push, promote, diff, evaluate and the enforcement log', async () => {
    const a = await call('POST', '/v1/policies/bundles', { token: admin, body: { format: 'yaml', document: POLICY } });
    expect(a.status).toBe(201);
    expect((await call('POST', `/v1/policies/bundles/${a.json.bundle_id}/promote`, { token: admin })).status).toBe(200);
    const b = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY.replace('"users:deactivate": high', '"users:deactivate": critical') },
    });
    expect(
      (await call('GET', `/v1/policies/bundles/${b.json.bundle_id}/diff/${a.json.bundle_id}`, { token: auditor }))
        .status,
    ).toBe(200);
    const d = await call('POST', '/v1/policies/evaluate', {
      token: svid,
      body: { principal: { type: 'Agent', id: agentId }, action: 'okta:users:read' },
    });
    expect(d.json.effect).toBe('permit');
    const log = await call('POST', '/v1/enforcement/log', {
      token: svid,
      body: {
        events: [
          {
            agent_id: agentId,
            action_name: 'okta:users:read',
            context_hash: 'h',
            decision: 'permit',
            decision_ms: 1,
            pep_topology: 'sdk',
            pep_version: 't',
            occurred_at: new Date().toISOString(),
          },
        ],
      },
    });
    expect(log.status).toBe(202);
  });

  it('actions: the catalog, a held action, its approval and the stats', async () => {
    expect((await call('GET', '/v1/connectors', { token: svid })).status).toBe(200);
    expect((await call('GET', '/v1/connectors/okta/operations', { token: admin })).status).toBe(200);
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: 'https://okta.invalid' }, secret: { api_token: 't' } },
        })
      ).status,
    ).toBe(200);
    const held = await call('POST', '/v1/actions', {
      token: svid,
      body: { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'u1' } },
    });
    expect(held.status).toBe(202);
    expect((await call('GET', `/v1/actions/${held.json.action_id}`, { token: svid })).json.status).toBe(
      'pending_approval',
    );
    expect((await call('GET', '/v1/approvals?status=pending', { token: approver })).json.items.length).toBeGreaterThan(
      0,
    );
    expect((await call('GET', `/v1/approvals/${held.json.approval_id}`, { token: approver })).status).toBe(200);
    const denied = await call('POST', `/v1/approvals/${held.json.approval_id}/decision`, {
      token: approver,
      body: { decision: 'deny', reason: 'not today' },
    });
    expect(denied.json.action.status).toBe('rejected');
    expect((await call('GET', '/v1/approvals/stats', { token: approver })).json.denied).toBeGreaterThan(0);
    const forbidden = await call('POST', '/v1/actions', {
      token: svid,
      body: { connector: 'okta', operation: 'users:suspend', params: { user_id: 'u1' } },
    });
    expect(forbidden.status).toBe(403);
  });

  it('audit and compliance: chain status, events, blocks, destinations, evidence', async () => {
    expect((await call('GET', '/v1/audit/chain/status', { token: auditor })).status).toBe(200);
    const events = await eventually(
      async () => {
        const r = await call('GET', '/v1/audit/events?limit=5', { token: auditor });
        return r.json.items.length > 0 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(events.status).toBe(200);
    expect((await call('GET', '/v1/audit/blocks', { token: auditor })).status).toBe(200);
    expect(
      (
        await call('POST', '/v1/audit/destinations', {
          token: admin,
          body: { bucket: 'contract-copy', prefix: 'arx/', role_arn: 'arn:aws:iam::123456789012:role/arx-copy' },
        })
      ).status,
    ).toBe(201);
    expect((await call('GET', '/v1/audit/destinations', { token: admin })).status).toBe(200);
    // The tenant's audit key is published at its first seal, which the sealer schedule makes within seconds.
    const keys = await eventually(
      async () => {
        const r = await call('GET', `/tenants/${tenant}/.well-known/audit-keys.json`);
        return r.status === 200 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(keys.json.keys.length).toBeGreaterThan(0);
    expect((await call('GET', '/v1/compliance/controls/soc2_2017/CC6.1/evidence', { token: auditor })).status).toBe(
      200,
    );
  });

  it('discovery: sources, push ingest, the inventory and its history, status', async () => {
    const src = await call('POST', '/v1/discovery/sources', {
      token: admin,
      body: { type: 'push', config: { platform: 'crewai' } },
    });
    expect(src.status).toBe(201);
    expect((await call('GET', '/v1/discovery/sources', { token: admin })).status).toBe(200);
    const ing = await call('POST', `/v1/discovery/sources/${src.json.source_id}/ingest`, {
      raw: JSON.stringify({
        agents: [
          {
            platform_native_id: `crew-${randomBytes(3).toString('hex')}`,
            name: 'crew',
            owner: { email: 'c@example.com' },
          },
        ],
      }),
      headers: { authorization: `Bearer ${src.json.ingest_token}`, 'content-type': 'application/json' },
    });
    expect(ing.status).toBe(200);
    const id = ing.json.ids[0];
    expect((await call('GET', '/v1/discovery/agents', { token: auditor })).json.items.length).toBeGreaterThan(0);
    expect((await call('GET', `/v1/discovery/agents/${id}`, { token: auditor })).status).toBe(200);
    expect((await call('GET', `/v1/discovery/agents/${id}/history`, { token: auditor })).status).toBe(200);
    expect((await call('GET', '/v1/discovery/status', { token: admin })).status).toBe(200);
    const pushed = await call('POST', '/v1/discovery/ingest', {
      token: admin,
      body: { agents: [{ platform: 'n8n', platform_native_id: `wf-${randomBytes(3).toString('hex')}` }] },
    });
    expect(pushed.json.new).toBe(1);
  });

  it('observability: prices, budgets, export, usage and trace search', async () => {
    expect((await call('GET', '/v1/usage/prices', { token: admin })).status).toBe(200);
    expect(
      (
        await call('PUT', '/v1/usage/prices', {
          token: admin,
          body: { models: [{ provider: 'p', model: 'm', input_per_1m: 1, output_per_1m: 2, effective_from: from }] },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call('PUT', '/v1/usage/budgets', {
          token: admin,
          body: { scope: 'agent', id: agentId, period: 'day', usd: 5 },
        })
      ).status,
    ).toBe(200);
    expect((await call('GET', '/v1/usage/budgets', { token: admin })).status).toBe(200);
    expect(
      (
        await call('PUT', '/v1/observability/export', {
          token: admin,
          body: { endpoint: 'https://otel.invalid/v1/traces', headers: { 'x-api-key': 'k' } },
        })
      ).json.header_names,
    ).toEqual(['x-api-key']);
    expect((await call('GET', '/v1/usage/org/summary', { token: admin })).status).toBe(200);
    expect((await call('GET', `/v1/usage/agents/${agentId}`, { token: admin })).status).toBe(200);
    expect((await call('GET', '/v1/usage/cohorts/contract-cohort', { token: admin })).status).toBe(200);
    expect((await call('POST', '/v1/traces/search', { token: admin, body: { from, to } })).status).toBe(200);
  });

  it('kill switch: a platform endpoint, a termination and its status', async () => {
    expect(
      (
        await call('PUT', '/v1/killswitch/platforms/custom-http', {
          token: admin,
          body: { url: 'https://kill.invalid/stop', timeout_ms: 500 },
        })
      ).status,
    ).toBe(200);
    const t = await call('POST', `/v1/agents/${agentId}/terminate`, {
      token: admin,
      body: { reason: 'contract test' },
    });
    expect(t.status).toBe(202);
    const done = await eventually(
      async () => {
        const r = await call('GET', `/v1/terminations/${t.json.termination_id}`, { token: auditor });
        return r.json.status !== 'in_flight' ? r : undefined;
      },
      60_000,
      500,
    );
    expect(done.status).toBe(200);
    expect(
      (await call('POST', `/v1/agents/${agentId}/terminate`, { token: admin, body: { reason: 'again' } })).json
        .existing,
    ).toBe(true);
  }, 90_000);

  it('checked a response of most routes against their schemas', () => {
    const routes = new Set([...checkedResponses].map((k) => k.replace(/ \d{3}$/, '')));
    const covered = TOPOLOGY.routes.filter((r) => routes.has(routeKey(r)));
    expect(covered.length).toBeGreaterThanOrEqual(50);
  });
});
