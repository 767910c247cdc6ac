import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoInventoryStore } from '../../../lambdas/identity/adapters/dynamo-inventory-store.js';
import type { AgentRecord } from '../../../lambdas/shared/ports.js';
import { spiffeIdOf } from '../../../lambdas/shared/ids.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { newId } from '../../../lambdas/shared/ids.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import {
  CachedRevocationChecker,
  DynamoRevocationList,
  REVOCATION_MIN_RETENTION_S,
} from '../../../lambdas/shared/revocation.js';
import {
  verifyAttestation,
  verifyTenantAttestation,
  type SignedAttestation,
} from '../../../lambdas/killswitch/core/attestation.js';
import { createTenantSigner } from '../../../lambdas/identity/signer.js';
import { actionsDeps } from '../../../lambdas/actions/adapters/deps.js';
import { withEnvironment } from '../../../lambdas/shared/settings.js';
import { ActionService } from '../../../lambdas/actions/core/service.js';
import { ConflictError } from '../../../lambdas/shared/errors.js';
import type { Decision, DecisionPoint } from '../../../lambdas/shared/ports.js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { CachedAgentState, SvidError, SvidVerifier } from '../../../lambdas/identity/core/verify.js';
import { DynamoAgentStateStore } from '../../../lambdas/identity/adapters/dynamo-identity-store.js';
import { run as terminateCli } from '../../../cli/commands/terminate.js';
import { admin, auditor, killEndpoint, killSwitchHarness, until, type KillSwitchHarness } from './harness.js';

let h: KillSwitchHarness;
let inventory: DynamoInventoryStore;
let stopPoller: () => Promise<void>;

async function register(tenant: string, platform = 'custom', cohort?: string): Promise<AgentRecord> {
  const id = newId('agt');
  const at = new Date().toISOString();
  const r: AgentRecord = {
    tenant_id: tenant,
    agent_id: id,
    spiffe_id: spiffeIdOf(tenant, platform, id),
    platform,
    platform_native_id: `native-${id}`,
    ...(cohort ? { cohort } : {}),
    owner: { oidc_sub: 'owner-1', attested_at: at, attestation_method: 'registration', status: 'live' },
    status: 'active',
    version: 1,
    created_at: at,
    valid_from: at,
    credential_generation: 1,
    changed_by: 'test',
    change_reason: 'registered',
  };
  await inventory.create(r, {
    event_id: newId('evt'),
    tenant_id: tenant,
    agent_id: id,
    change: 'registered',
    version: 1,
    status: 'active',
    at,
    actor: 'test',
    correlation_id: 'c',
    trace_id: 't',
  });
  return r;
}

/**
 * A fresh tenant with its own signing key (alias/arx/<tenant>/signing, tagged arx:tenant), as
 * identity provisions on first use: exit attestations are signed with it and never with another
 * tenant's key (F25).
 */
const tenantName = async (): Promise<string> => {
  const tenant = `ks${randomBytes(3).toString('hex')}`;
  const kms = new KMSClient({});
  const k = await kms.send(
    new CreateKeyCommand({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Tags: [{ TagKey: 'arx:tenant', TagValue: tenant }],
    }),
  );
  await kms.send(
    new CreateAliasCommand({ AliasName: `alias/arx/${tenant}/signing`, TargetKeyId: k.KeyMetadata!.KeyId! }),
  );
  return tenant;
};
const final = async (tenant: string, id: string) =>
  until(async () => {
    const r = await h.call('GET', `/v1/terminations/${id}`, '/v1/terminations/{id}', { id }, auditor(tenant));
    return r.json.status !== 'in_flight' ? r.json : null;
  }, 25_000);

beforeAll(async () => {
  h = await killSwitchHarness();
  inventory = new DynamoInventoryStore(
    h.env.ARX_INVENTORY_TABLE!,
    h.env.ARX_CONTROL_TABLE!,
    new Outbox(h.env.ARX_CONTROL_TABLE!, new EventBridgePublisher(h.env.ARX_EVENT_BUS!)),
  );
  stopPoller = h.startPoller();
}, 120_000);

afterAll(async () => {
  await stopPoller?.();
});

describe('Termination saga (API + synthesised state machine, real handlers, moto)', () => {
  it('runs each handler with only its own function environment, not the union of all', () => {
    // The platform step calls the platform's kill endpoint: no audit, no bus. The attestation step
    // writes the attestation: the audit bucket. Nothing is merged into process.env for them.
    const platform = h.functionEnv('killswitch-step-platform');
    expect(platform.ARX_FUNCTION_NAME).toBe('killswitch-step-platform');
    expect(platform.ARX_CONTROL_TABLE).toBe(h.env.ARX_CONTROL_TABLE);
    expect(platform.ARX_AUDIT_BUCKET).toBeUndefined();
    expect(platform.ARX_TERMINATION_STATE_MACHINE_ARN).toBeUndefined();
    expect(h.functionEnv('killswitch-step-attestation').ARX_AUDIT_BUCKET).toBe(h.env.ARX_AUDIT_BUCKET);
    expect(h.functionEnv('killswitch-api').ARX_TERMINATION_STATE_MACHINE_ARN).toBeTruthy();
    expect(process.env.ARX_CONTROL_TABLE).not.toBe(h.env.ARX_CONTROL_TABLE);
  });

  it('refuses the agent before the terminate call returns, then completes every step and writes a signed exit attestation', async () => {
    // Arrange
    const tenant = await tenantName();
    const agent = await register(tenant, 'custom-http');
    const endpoint = await killEndpoint(200);
    const cfg = await h.call(
      'PUT',
      '/v1/killswitch/platforms/custom-http',
      '/v1/killswitch/platforms/{platform}',
      { platform: 'custom-http' },
      admin(tenant),
      { url: endpoint.url },
    );
    expect(cfg.status).toBe(200);
    const checker = new CachedRevocationChecker(
      new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!),
      systemClock,
      1000,
    );
    expect(await checker.status(tenant, agent.agent_id)).toBe('clear');

    // Act
    const r = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'exfiltration suspected' },
    );

    // Assert: enforcement sees it at once (steps 1-2 ran before 202)
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({
      termination_id: expect.stringMatching(/^term_/),
      status: 'in_flight',
      scope: 'agent',
      agent_ids: [agent.agent_id],
    });
    const fresh = new CachedRevocationChecker(new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!), systemClock, 1000);
    expect(await fresh.status(tenant, agent.agent_id)).toBe('revoked');
    expect((await inventory.get(tenant, agent.agent_id))?.status).toBe('terminated');
    const entry = await new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!).get(tenant, agent.agent_id, new Date());
    expect(entry).toMatchObject({ reason_code: 'terminated', spiffe_id: agent.spiffe_id });
    expect(Date.parse(entry!.ttl_until) - Date.parse(entry!.revoked_at)).toBe(REVOCATION_MIN_RETENTION_S * 1000);

    const done = await final(tenant, r.json.termination_id);
    expect(done.status).toBe('complete');
    const byName = Object.fromEntries(done.steps.map((s: any) => [s.name, s]));
    expect(byName.inventory.status).toBe('ok');
    expect(byName.revocation.status).toBe('ok');
    expect(byName.credentials.status).toBe('ok');
    expect(byName.platform).toMatchObject({
      status: 'ok',
      results: { [agent.agent_id]: { outcome: 'killed', adapter: 'http' } },
    });
    expect(byName.drain).toMatchObject({
      status: 'ok',
      results: { [agent.agent_id]: { outcome: 'drained', cancelled: 0 } },
    });
    expect(byName.audit.status).toBe('ok');
    expect(byName.attestation.status).toBe('ok');
    expect(endpoint.calls).toHaveLength(1);
    expect(endpoint.calls[0]!.body).toMatchObject({
      action: 'terminate',
      agent_id: agent.agent_id,
      termination_id: r.json.termination_id,
    });
    expect(endpoint.calls[0]!.headers['idempotency-key']).toBe(`${r.json.termination_id}.${agent.agent_id}`);
    expect(byName.credentials.results[agent.agent_id]).toMatchObject({
      outcome: 'revoked',
      credentials: [
        { kind: 'credential-bindings' },
        { kind: 'sts-sessions', denied_on_roles: 0 },
        { kind: 'oauth-tokens', revoked: 0 },
        { kind: 'refresh-tokens', revoked: 0 },
      ],
    });

    // the attestation is in the audit bucket, under object lock, and verifies with the tenant key
    expect(done.attestation_url).toMatch(
      new RegExp(`^s3://${h.env.ARX_AUDIT_BUCKET}/tenants/${tenant}/attestations/${r.json.termination_id}\\.json$`),
    );
    const key = `tenants/${tenant}/attestations/${r.json.termination_id}.json`;
    const s3 = new S3Client({ forcePathStyle: true });
    const head = await s3.send(new HeadObjectCommand({ Bucket: h.env.ARX_AUDIT_BUCKET!, Key: key }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: h.env.ARX_AUDIT_BUCKET!, Key: key }))
    ).Body!.transformToString();
    const envelope = JSON.parse(body) as SignedAttestation;
    expect(envelope.attestation).toMatchObject({
      type: 'arx.exit-attestation.v1',
      termination: {
        termination_id: r.json.termination_id,
        declared_intent: 'exfiltration suspected',
        initiated_by: 'admin-1',
      },
    });
    const a0 = (envelope.attestation.agents as any[])[0];
    expect(a0).toMatchObject({
      agent_id: agent.agent_id,
      final_status: 'terminated',
      last_credentials: { outcome: 'revoked' },
    });
    // signed by the tenant's own key (its alias), listed under its kid in the tenant's keys
    const pub = await new KMSClient({}).send(new GetPublicKeyCommand({ KeyId: `alias/arx/${tenant}/signing` }));
    expect(verifyAttestation(envelope, Buffer.from(pub.PublicKey!))).toEqual({ valid: true });
    const tenantKeys = await createTenantSigner({ env: h.env }).publicKeys(tenant);
    expect(verifyTenantAttestation(envelope, tenant, tenantKeys)).toEqual({ valid: true });
    const tampered = {
      ...envelope,
      attestation: { ...envelope.attestation, generated_at: '1999-01-01T00:00:00.000Z' },
    };
    expect(verifyAttestation(tampered, Buffer.from(pub.PublicKey!)).valid).toBe(false);
    expect(verifyTenantAttestation(tampered, tenant, tenantKeys).valid).toBe(false);
    await endpoint.close();
  }, 60_000);

  it('ends partial_failure when the platform API is down, while the agent stays refused', async () => {
    const tenant = await tenantName();
    const agent = await register(tenant, 'flaky-platform');
    // nothing listens on port 9: every kill command fails
    await h.call(
      'PUT',
      '/v1/killswitch/platforms/flaky-platform',
      '/v1/killswitch/platforms/{platform}',
      { platform: 'flaky-platform' },
      admin(tenant),
      {
        url: 'http://127.0.0.1:9/kill',
        timeout_ms: 200,
      },
    );

    const r = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'runaway' },
    );
    expect(r.status).toBe(202);

    const done = await final(tenant, r.json.termination_id);
    expect(done.status).toBe('partial_failure');
    const platform = done.steps.find((s: any) => s.name === 'platform');
    expect(platform.status).toBe('failed');
    expect(platform.attempts).toBe(4); // first try + 3 retries with backoff, then recorded failed
    expect(platform.error).toMatch(/PlatformKillError/);
    // steps 1-2 were not undone
    const checker = new CachedRevocationChecker(
      new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!),
      systemClock,
      1000,
    );
    expect(await checker.status(tenant, agent.agent_id)).toBe('revoked');
    expect((await inventory.get(tenant, agent.agent_id))?.status).toBe('terminated');
    // later steps still ran
    expect(done.steps.find((s: any) => s.name === 'audit').status).toBe('ok');
    expect(done.steps.find((s: any) => s.name === 'attestation').status).toBe('ok');
  }, 60_000);

  it('starts one run only when the same agent is terminated twice, even concurrently', async () => {
    const tenant = await tenantName();
    const agent = await register(tenant);
    const call = () =>
      h.call(
        'POST',
        `/v1/agents/${agent.agent_id}/terminate`,
        '/v1/agents/{id}/terminate',
        { id: agent.agent_id },
        admin(tenant),
        { reason: 'twice' },
      );

    const [a, b] = await Promise.all([call(), call()]);
    const c = await call();

    const ids = new Set([a.json.termination_id, b.json.termination_id, c.json.termination_id]);
    expect(ids.size).toBe(1);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(c.status).toBe(200);
    expect(c.json.existing).toBe(true);
    const [id] = [...ids];
    const execs = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.machineArn, maxResults: 1000 }));
    expect((execs.executions ?? []).filter((e) => e.name === id)).toHaveLength(1);
    await final(tenant, id!);
  }, 60_000);

  it('terminates a cohort: every live agent of it, one termination', async () => {
    const tenant = await tenantName();
    const a = await register(tenant, 'custom', 'red-team');
    const b = await register(tenant, 'custom', 'red-team');
    const other = await register(tenant, 'custom', 'blue-team');

    const r = await h.call(
      'POST',
      '/v1/cohorts/red-team/terminate',
      '/v1/cohorts/{id}/terminate',
      { id: 'red-team' },
      admin(tenant),
      { reason: 'cohort compromised' },
    );

    expect(r.status).toBe(202);
    expect([...r.json.agent_ids].sort()).toEqual([a.agent_id, b.agent_id].sort());
    expect((await inventory.get(tenant, other.agent_id))?.status).toBe('active');
    const missing = await h.call(
      'POST',
      '/v1/cohorts/nobody/terminate',
      '/v1/cohorts/{id}/terminate',
      { id: 'nobody' },
      admin(tenant),
      { reason: 'x' },
    );
    expect(missing.status).toBe(404);
    await final(tenant, r.json.termination_id);
  }, 60_000);

  it('answers 404 for another tenant’s termination and refuses non-admins', async () => {
    const tenant = await tenantName();
    const agent = await register(tenant);
    const r = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'x' },
    );
    const foreign = await h.call(
      'GET',
      `/v1/terminations/${r.json.termination_id}`,
      '/v1/terminations/{id}',
      { id: r.json.termination_id },
      auditor('someone-else'),
    );
    expect(foreign.status).toBe(404);
    const foreignAgent = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin('someone-else'),
      { reason: 'x' },
    );
    expect(foreignAgent.status).toBe(404);
    const byAuditor = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      auditor(tenant),
      { reason: 'x' },
    );
    expect(byAuditor.status).toBe(403);
    const extra = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'x', force: true },
    );
    expect(extra.status).toBe(400);
    await final(tenant, r.json.termination_id);
  }, 60_000);
});

describe('Emergency stop (quorum of two different admins)', () => {
  it('refuses a stop confirmed by the same admin, and stops every agent once a second admin confirms', async () => {
    const tenant = await tenantName();
    const a = await register(tenant);
    const b = await register(tenant);
    const path = `/v1/org/${tenant}/emergency_stop`;
    const route = '/v1/org/{tenant_id}/emergency_stop';

    const first = await h.call('POST', path, route, { tenant_id: tenant }, admin(tenant, 'alice'), {
      reason: 'breach',
    });
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ status: 'pending_quorum', requested_by: 'alice' });
    const again = await h.call('POST', path, route, { tenant_id: tenant }, admin(tenant, 'alice'), {
      reason: 'breach',
    });
    expect(again.status).toBe(403);
    expect(again.json.detail).toMatch(/second, different admin/);
    expect((await inventory.get(tenant, a.agent_id))?.status).toBe('active');

    const wrongTenant = await h.call(
      'POST',
      `/v1/org/other/emergency_stop`,
      route,
      { tenant_id: 'other' },
      admin(tenant, 'bob'),
      { reason: 'breach' },
    );
    expect(wrongTenant.status).toBe(404);

    const confirm = await h.call('POST', path, route, { tenant_id: tenant }, admin(tenant, 'bob'), {
      reason: 'confirm',
    });
    expect(confirm.status).toBe(202);
    expect(confirm.json).toMatchObject({ scope: 'org', initiated_by: 'alice', confirmed_by: 'bob', reason: 'breach' });
    expect([...confirm.json.agent_ids].sort()).toEqual([a.agent_id, b.agent_id].sort());
    expect((await inventory.get(tenant, a.agent_id))?.status).toBe('terminated');
    expect((await inventory.get(tenant, b.agent_id))?.status).toBe('terminated');
    await final(tenant, confirm.json.termination_id);
  }, 60_000);
});

describe('Termination during a pending approval', () => {
  it('cancels the approval in the drain step, so it can never be approved nor executed', async () => {
    // Arrange: the actions service on the real store, with a PDP that holds okta deactivations for a human
    const tenant = await tenantName();
    const agent = await register(tenant);
    const hitl: DecisionPoint = {
      decide: async (): Promise<Decision> => ({
        effect: 'permit',
        approval: 'hitl',
        risk: 'high',
        determining_policies: ['p1'],
        errors: [],
        evaluation_ms: 0,
        bundle_version: 'test',
        hitl: { timeout_seconds: 3600, separation_of_duties: false },
      }),
    };
    // The test plays the actions API: its wiring is built and called in that function's own environment.
    const asActionsApi = <T>(fn: () => T): T => withEnvironment(h.functionEnv('actions-api'), fn);
    const service = asActionsApi(() => new ActionService({ ...actionsDeps().deps, pdp: hitl }));
    const held = await asActionsApi(() =>
      service.submit(
        { tenantId: tenant, agentId: agent.agent_id, spiffeId: agent.spiffe_id },
        { connector: 'okta', operation: 'users:deactivate', params: { user_id: '00u1' } },
        { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      ),
    );
    expect(held.kind).toBe('pending');
    const approvalId = (held as { approval: { approval_id: string } }).approval.approval_id;

    // Act
    const r = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'kill during approval' },
    );
    const done = await final(tenant, r.json.termination_id);

    // Assert
    expect(done.status).toBe('complete');
    expect(done.steps.find((s: any) => s.name === 'drain')).toMatchObject({
      status: 'ok',
      results: { [agent.agent_id]: { outcome: 'drained', cancelled: 1 } },
    });
    expect((await asActionsApi(() => service.getApproval(tenant, approvalId))).status).toBe('cancelled');
    await expect(
      asActionsApi(() =>
        service.decide(
          tenant,
          approvalId,
          { id: 'approver-1', display: 'approver-1', principalType: 'human', via: 'api' },
          'approve',
          'looks fine',
        ),
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    const action = await asActionsApi(() => service.get({ tenantId: tenant }, held.action.action_id));
    expect(action.status).not.toBe('executed');
    expect(action.status).toBe('cancelled');
  }, 60_000);
});

describe('A terminated agent’s cached SVID', () => {
  it('verifies before the terminate call and is refused by the verifier right after it', async () => {
    // Arrange: an SVID the agent holds, and the verifier every ARX function uses (DRL + credential state, 1 s window)
    const tenant = await tenantName();
    const agent = await register(tenant);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const now = Math.floor(Date.now() / 1000);
    const svid = await new SignJWT({ owner_sub: 'owner-1', gen: 1 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
      .setIssuer(`https://arx.test/tenants/${tenant}`)
      .setSubject(agent.spiffe_id)
      .setAudience('arx')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 900)
      .setJti(newId('jti'))
      .sign(privateKey);
    const verifier = new SvidVerifier({
      issuerBase: 'https://arx.test',
      fetchJwks: async () => ({ keys: [jwk] }),
      revocation: new CachedRevocationChecker(new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!), systemClock, 1000),
      agentState: new CachedAgentState(new DynamoAgentStateStore(h.env.ARX_CONTROL_TABLE!), systemClock),
      clock: systemClock,
    });
    expect((await verifier.verify(svid, { audience: 'arx' })).agentId).toBe(agent.agent_id);

    // Act
    const r = await h.call(
      'POST',
      `/v1/agents/${agent.agent_id}/terminate`,
      '/v1/agents/{id}/terminate',
      { id: agent.agent_id },
      admin(tenant),
      { reason: 'stolen token' },
    );
    expect(r.status).toBe(202);

    // Assert: within the verifier's 1 s staleness window the same token stops verifying
    const refused = await until(async () => {
      try {
        await verifier.verify(svid, { audience: 'arx' });
        return null;
      } catch (e) {
        return e as SvidError;
      }
    }, 3000);
    expect(refused).toBeInstanceOf(SvidError);
    expect(refused.reason).toBe('revoked');
    // and a verifier without any cache refuses it at once
    const cold = new SvidVerifier({
      issuerBase: 'https://arx.test',
      fetchJwks: async () => ({ keys: [jwk] }),
      revocation: new CachedRevocationChecker(new DynamoRevocationList(h.env.ARX_REVOCATION_TABLE!), systemClock, 1000),
      agentState: new CachedAgentState(new DynamoAgentStateStore(h.env.ARX_CONTROL_TABLE!), systemClock),
      clock: systemClock,
    });
    await expect(cold.verify(svid, { audience: 'arx' })).rejects.toMatchObject({ reason: 'revoked' });
    const state = await new DynamoAgentStateStore(h.env.ARX_CONTROL_TABLE!).get(tenant, agent.agent_id);
    expect(state?.status).toBe('terminated');
    await final(tenant, r.json.termination_id);
  }, 60_000);
});

describe('arx terminate (CLI)', () => {
  it('terminates an agent, waits for the saga and prints its steps; refuses without --reason', async () => {
    const tenant = await tenantName();
    const agent = await register(tenant);
    // The CLI's fetch goes straight to the API handler (as API Gateway would after the authorizer).
    const routes: [RegExp, string, string[]][] = [
      [/^\/v1\/agents\/([^/]+)\/terminate$/, '/v1/agents/{id}/terminate', ['id']],
      [/^\/v1\/terminations\/([^/]+)$/, '/v1/terminations/{id}', ['id']],
    ];
    const fetchToHandler = (async (url: string, init: RequestInit) => {
      const path = new URL(url).pathname;
      const [re, route, names] = routes.find(([r]) => r.test(path))!;
      const m = re.exec(path)!;
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      const r = await h.call(
        String(init.method),
        path,
        route,
        params,
        admin(tenant),
        init.body ? JSON.parse(String(init.body)) : undefined,
      );
      return new Response(r.json === undefined ? null : JSON.stringify(r.json), { status: r.status });
    }) as unknown as typeof fetch;
    let out = '';
    let err = '';
    const io = {
      out: (x: string) => (out += x),
      err: (x: string) => (err += x),
      fetch: fetchToHandler,
      env: { ARX_API_URL: 'http://arx.test', ARX_TOKEN: 't' },
      cwd: '/nonexistent',
    };

    expect(await terminateCli([agent.agent_id], io)).toBe(2);
    expect(err).toMatch(/--reason <text> is required/);

    const code = await terminateCli([agent.agent_id, '--reason', 'from the cli', '--wait', '20'], io);

    expect(code).toBe(0);
    expect(out).toMatch(
      /^term_\S+ complete \[agent 1 agent\(s\)\] inventory:ok revocation:ok credentials:ok platform:ok drain:ok audit:ok attestation:ok/,
    );
    expect(out).toMatch(/attestation: s3:\/\//);
    expect((await inventory.get(tenant, agent.agent_id))?.status).toBe('terminated');
  }, 60_000);
});
