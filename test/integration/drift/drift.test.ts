import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArxClient } from '../../../sdk/index.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { createDriftReader, UNAVAILABLE_DRIFT } from '../../../lambdas/drift/index.js';
import { DriftService } from '../../../lambdas/drift/core/service.js';
import { DynamoDriftStore } from '../../../lambdas/drift/adapters/dynamo-drift-store.js';
import { emptyState } from '../../../lambdas/drift/core/drift.js';
import { api, eventually, startTestRuntime } from '../../support/runtime.js';
import { RecordingPublisher } from '../../support/events.js';
import { fakeOkta, recordingServer } from '../actions/support.js';
import { rng, simulate, stationary } from '../../unit/drift/simulate.js';

const POLICY = `
- name: okta-drift
  connector: okta
  operations:
    "users:read*": low
    "users:list": low
  risk_max: high
  drift: { score: 0.5, min_risk: low, over: hitl }
`;

/**
 * Drift against the local runtime (moto, the real handlers and bus delivery): governed actions
 * reach the agent's baseline through the bus consumer; the drift API answers per tenant; a
 * drifting agent's next action is held for a human by the YAML drift rule, its agent.drift event
 * committed through the outbox with the correlation keys; an unreachable store fails closed.
 */
describe('drift (local runtime, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let auditor: string;
  let approver: string;
  let globex: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;

  const agent = async () => {
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `drift-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'o-1' },
      },
    });
    expect(r.status).toBe(201);
    return {
      id: r.json.agent_id as string,
      arx: new ArxClient({ apiUrl: rt.url, bootstrapToken: r.json.bootstrap_token }),
    };
  };
  const read = async (a: ArxClient) =>
    call('POST', '/v1/actions', {
      token: await a.token(),
      body: { connector: 'okta', operation: 'users:read', params: {} },
    });

  beforeAll(async () => {
    const fake = fakeOkta('okta-drift-token');
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    approver = await rt.idp.token({ sub: 'pat', tenant: 'acme', roles: ['approver'] });
    globex = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['admin'] });
    const put = await call('PUT', '/v1/connectors/okta', {
      token: admin,
      body: { config: { base_url: okta.url }, secret: { api_token: 'okta-drift-token' } },
    });
    expect(put.status).toBe(200);
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY },
    });
    expect(pushed.status, JSON.stringify(pushed.json)).toBe(201);
    expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
      200,
    );
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
  });

  it("folds an agent's governed actions into its baseline through the bus, once each", async () => {
    const { id, arx } = await agent();
    const before = await call('GET', `/v1/agents/${id}/drift`, { token: auditor });
    expect(before.status).toBe(200);
    expect(before.json).toMatchObject({
      agent_id: id,
      score: 0,
      alert: false,
      warming_up: true,
      baseline: { decisions: 0 },
    });
    for (let i = 0; i < 3; i++) expect((await read(arx)).status).toBe(200); // warming up: score 0, not held
    const after = await eventually(async () => {
      const r = await call('GET', `/v1/agents/${id}/drift`, { token: admin });
      return r.json.baseline.decisions >= 3 ? r : null;
    }, 20_000);
    // each decision once: the actions service's own copy of a forbid and redeliveries are not counted twice
    expect(after.json.baseline.decisions).toBe(3);
    expect(after.json.components.mix.shifted[0]).toMatchObject({ action: 'okta:users:read' });
    expect(after.json.method).toContain('Jensen-Shannon');
  });

  it('answers 404 for an unknown agent or another tenant’s, and 403 to a role that may not read agents', async () => {
    const { id } = await agent();
    expect((await call('GET', '/v1/agents/agt_nope/drift', { token: admin })).status).toBe(404);
    expect((await call('GET', `/v1/agents/${id}/drift`, { token: globex })).status).toBe(404);
    expect((await call('GET', `/v1/agents/${id}/drift`, { token: approver })).status).toBe(403);
  });

  it("holds a drifting agent's next action for a human and commits agent.drift through the outbox", async () => {
    const steady = await agent();
    const drifting = await agent();
    const table = rt.env.ARX_CONTROL_TABLE!;
    const store = new DynamoDriftStore(table);
    // two weeks of steady behaviour up to now, folded by the pure core and stored once
    const r = rng(11);
    const hour = 3600_000;
    const start = Math.floor(Date.now() / hour) * hour - 14 * 24 * hour;
    const { state } = simulate(emptyState(), r, stationary(r), start, 14 * 24, () => undefined);
    expect(await store.put('acme', drifting.id, state, 0, [], new Date().toISOString())).toBe(true);
    // a stale writer loses (optimistic concurrency) and writes nothing
    expect(await store.put('acme', drifting.id, emptyState(), 0, [], new Date().toISOString())).toBe(false);
    const published = new RecordingPublisher();
    const service = new DriftService({ store, events: new Outbox(table, published), clock: systemClock });
    // then its first call to a connector it never used
    const trigger = {
      tenant_id: 'acme',
      event_id: `enf_${randomBytes(4).toString('hex')}`,
      correlation_id: 'corr-drift-1',
      trace_id: 'a'.repeat(32),
      agent_id: drifting.id,
      action: 'aws:s3:get_object',
      effect: 'permit',
      pep_topology: 'remote',
    };
    const out = await service.ingest('policy.decision', trigger);
    expect(out?.crossed).toBe('alert');
    expect(out?.report.driver).toBe('new_connector');
    // the redelivered event changes nothing and emits nothing more
    expect((await service.ingest('policy.decision', trigger))?.crossed).toBeNull();
    expect(published.events).toHaveLength(1);
    expect(published.events[0]).toMatchObject({
      detailType: 'agent.drift',
      detail: {
        tenant_id: 'acme',
        agent_id: drifting.id,
        correlation_id: 'corr-drift-1',
        trace_id: 'a'.repeat(32),
        event_id: `agent.drift:${drifting.id}:${trigger.event_id}`,
        state: 'alert',
        driver: 'new_connector',
        evidence: { components: { new_connectors: ['aws'] } },
      },
    });
    const view = await call('GET', `/v1/agents/${drifting.id}/drift`, { token: auditor });
    expect(view.json).toMatchObject({ alert: true, driver: 'new_connector', warming_up: false });
    expect(view.json.score).toBeGreaterThanOrEqual(0.5);

    // the YAML drift rule holds the drifting agent's read for a human; the steady agent's runs
    const held = await read(drifting.arx);
    expect(held.status).toBe(202);
    expect(held.json).toMatchObject({ status: 'pending_approval' });
    expect(held.json.decision).toMatchObject({ effect: 'permit', approval: 'hitl' });
    expect((await read(steady.arx)).status).toBe(200);
  });

  it('fails closed when the drift store is unreachable: the context says drifting', async () => {
    const ctx = await createDriftReader(`no-such-table-${randomBytes(3).toString('hex')}`).context('acme', 'agt_x');
    expect(ctx).toEqual(UNAVAILABLE_DRIFT);
    expect(ctx.drift).toMatchObject({ score: 1, alert: true, available: false });
    // a readable store answers the real state
    const live = await createDriftReader(rt.env.ARX_CONTROL_TABLE!).context('acme', 'agt_never_seen');
    expect(live.drift).toEqual({ score: 0, alert: false, warming_up: true, available: true });
  });
});
