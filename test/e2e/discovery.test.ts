import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CreateAgentCommand } from '@aws-sdk/client-bedrock-agent';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { LocalRuntime } from '../../local/runtime.js';
import { setClientFactory } from '../../lambdas/discovery/adapters/deps.js';
import { defaultClientFactory } from '../../lambdas/discovery/adapters/aws-sources.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';
import { motoBedrockAgent, motoClientFactory } from '../support/moto-bedrock.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-north-1';
const tag = randomBytes(4).toString('hex');
const eb = new EventBridgeClient({ region: 'us-east-1' });

/** A CloudTrail-shaped "AWS API Call via CloudTrail" event, put on moto's default bus as CloudTrail would. */
async function putCloudTrail(
  source: string,
  eventSource: string,
  eventName: string,
  detail: Record<string, unknown>,
): Promise<void> {
  const out = await eb.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: 'default',
          Source: source,
          DetailType: 'AWS API Call via CloudTrail',
          Detail: JSON.stringify({
            eventVersion: '1.09',
            eventTime: new Date().toISOString(),
            eventSource,
            eventName,
            awsRegion: REGION,
            recipientAccountId: ACCOUNT,
            ...detail,
          }),
        },
      ],
    }),
  );
  expect(out.FailedEntryCount ?? 0).toBe(0);
}
const assumed = (role: string) => ({
  type: 'AssumedRole',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/session-${randomBytes(3).toString('hex')}`,
  accountId: ACCOUNT,
  sessionContext: {
    sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT, userName: role },
  },
});

describe('discovery (e2e against the local runtime)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let auditor: string;
  let otherAdmin: string;

  beforeAll(async () => {
    // Test-side only: moto 5.2.1's bedrock-agent dates (see test/support/moto-bedrock.ts).
    setClientFactory(motoClientFactory);
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    otherAdmin = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['admin'] });
    const src = await call('POST', '/v1/discovery/sources', {
      token: admin,
      body: { type: 'aws_account', config: { regions: [REGION] } },
    });
    expect(src.status).toBe(201);
    expect(src.json).toMatchObject({ type: 'aws_account', account_id: ACCOUNT, regions: [REGION] });
  });
  afterAll(async () => {
    setClientFactory(defaultClientFactory);
    await rt?.stop();
  });

  it('shows an agent created in moto Bedrock after a scan, unsanctioned, with an SCD-2 history', async () => {
    const agent = (
      await motoBedrockAgent(REGION).send(
        new CreateAgentCommand({
          agentName: `billing-${tag}`,
          agentResourceRoleArn: `arn:aws:iam::${ACCOUNT}:role/billing-${tag}`,
          foundationModel: 'amazon.nova-pro-v1:0',
          instruction: 'Answer billing questions politely.',
        }),
      )
    ).agent!;
    const scan = await call('POST', '/v1/discovery/scan', { token: admin, body: {} });
    expect(scan.status).toBe(202);
    expect(scan.json.scan_id).toMatch(/^scn_/);
    const done = await eventually(
      async () => {
        const r = await call('GET', `/v1/discovery/scan/${scan.json.scan_id}`, { token: auditor });
        return ['succeeded', 'partial', 'failed'].includes(r.json?.status) ? r.json : null;
      },
      20_000,
      200,
    );
    expect(done).toMatchObject({ status: 'succeeded', errors: [] });
    expect(done.new).toBeGreaterThanOrEqual(1);

    const list = await call('GET', `/v1/discovery/agents?platform=bedrock&q=billing-${tag}`, { token: auditor });
    expect(list.status).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const item = list.json.items[0];
    expect(item).toMatchObject({
      kind: 'discovered',
      platform: 'bedrock',
      platform_native_id: agent.agentId,
      source: 'list_api',
      sanctioned: false,
      owner: 'unknown',
      confidence: 1,
      state: 'present',
    });
    expect(item.sources[0]).toMatchObject({ source: 'list_api', origin: `aws:${ACCOUNT}:${REGION}` });
    const hist = await call('GET', `/v1/discovery/agents/${item.id}/history`, { token: auditor });
    expect(hist.json.items.map((v: { version: number }) => v.version)).toEqual([1]);
    // Not an ARX identity: identity does not know it (no SVID can be obtained for it).
    expect((await call('GET', `/v1/identity/agents/${item.id}`, { token: admin })).status).toBe(404);

    const status = await call('GET', '/v1/discovery/status', { token: auditor });
    expect(status.json.sources[0]).toMatchObject({ type: 'aws_account', errors: [] });
    expect(status.json.sources[0].last_success_at).toBeTruthy();
    expect(status.json.sources[0].lag_seconds).toBeLessThan(60);
  });

  it('creates a shadow agent for a CloudTrail InvokeModel by an unknown role; adopting it makes an ARX identity', async () => {
    const role = `shadow-${tag}`;
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/${role}`;
    await putCloudTrail('aws.bedrock', 'bedrock.amazonaws.com', 'InvokeModel', {
      userIdentity: assumed(role),
      requestParameters: { modelId: 'anthropic.claude-3-haiku-20240307-v1:0' },
    });
    const shadow = await eventually(
      async () => {
        const r = await call('GET', `/v1/discovery/agents?platform=aws-iam&q=${role}`, { token: auditor });
        return r.json?.items?.[0];
      },
      15_000,
      100,
    );
    expect(shadow).toMatchObject({
      kind: 'discovered',
      platform: 'aws-iam',
      platform_native_id: roleArn,
      source: 'audit_inference',
      sanctioned: false,
      observed_actions_30d: 1,
      principal_arns: [roleArn],
    });
    const unsanctioned = await call('GET', '/v1/discovery/agents?sanctioned=false&source=audit_inference', {
      token: auditor,
    });
    expect(unsanctioned.json.items.map((a: { id: string }) => a.id)).toContain(shadow.id);
    expect((await call('GET', `/v1/identity/agents/${shadow.id}`, { token: admin })).status).toBe(404);

    // A second call by another session of the same role feeds the same record.
    await putCloudTrail('aws.bedrock', 'bedrock.amazonaws.com', 'ConverseStream', { userIdentity: assumed(role) });
    await eventually(
      async () =>
        (await call('GET', `/v1/discovery/agents/${shadow.id}`, { token: auditor })).json?.observed_actions_30d === 2,
      15_000,
      100,
    );

    const adopted = await call('POST', `/v1/discovery/agents/${shadow.id}/adopt`, {
      token: admin,
      body: { owner: { oidc_sub: 'bob', email: 'bob@example.com', team: 'ml' } },
    });
    expect(adopted.status).toBe(201);
    expect(adopted.json).toMatchObject({
      status: 'active',
      discovered_id: shadow.id,
      platform: 'aws-iam',
      platform_native_id: roleArn,
    });
    expect(adopted.json.bootstrap_token).toMatch(/^arxb_/);
    expect(adopted.json.spiffe_id).toBe(`spiffe://acme.arx/aws-iam/${adopted.json.agent_id}`);
    const ident = await call('GET', `/v1/identity/agents/${adopted.json.agent_id}`, { token: admin });
    expect(ident.json).toMatchObject({ platform: 'aws-iam', platform_native_id: roleArn, owner: { oidc_sub: 'bob' } });
    // The bootstrap token is exchangeable for an SVID, as after registration.
    const tok = await fetch(`${rt.url}/v1/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: adopted.json.bootstrap_token,
        subject_token_type: 'urn:arx:params:oauth:token-type:bootstrap',
        audience: 'arx',
      }),
    });
    expect(tok.status).toBe(200);

    const after = (await call('GET', `/v1/discovery/agents/${shadow.id}`, { token: auditor })).json;
    expect(after).toMatchObject({
      sanctioned: true,
      arx_agent_id: adopted.json.agent_id,
      owner: { oidc_sub: 'bob' },
      version: 2,
    });
    const hist = (await call('GET', `/v1/discovery/agents/${shadow.id}/history`, { token: auditor })).json.items;
    expect(hist.map((v: { sanctioned: boolean }) => v.sanctioned)).toEqual([false, true]);
    expect(hist[0].valid_to).toBe(hist[1].valid_from);
    const listed = await call('GET', `/v1/discovery/agents?sanctioned=true&platform=aws-iam`, { token: auditor });
    expect(listed.json.items.map((a: { agent_id: string }) => a.agent_id)).toContain(adopted.json.agent_id);
    expect(
      (
        await call('POST', `/v1/discovery/agents/${shadow.id}/adopt`, {
          token: admin,
          body: { owner: { oidc_sub: 'bob' } },
        })
      ).status,
    ).toBe(409);
  });

  it('refreshes the sanctioned inventory from a CloudTrail CreateAgent / DeleteAgent event within seconds', async () => {
    const id = `CT${tag.toUpperCase()}`;
    const t0 = Date.now();
    await putCloudTrail('aws.bedrock', 'bedrock.amazonaws.com', 'CreateAgent', {
      userIdentity: assumed('platform-admin'),
      requestParameters: { agentName: `ct-${tag}`, foundationModel: 'amazon.nova-lite-v1:0' },
      responseElements: { agent: { agentId: id, agentName: `ct-${tag}` } },
    });
    const a = await eventually(
      async () =>
        (await call('GET', `/v1/discovery/agents?platform=bedrock&q=ct-${tag}`, { token: auditor })).json?.items?.[0],
      10_000,
      100,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(a).toMatchObject({
      platform_native_id: id,
      source: 'list_api',
      sanctioned: false,
      declared_capabilities: ['model:amazon.nova-lite-v1:0'],
    });
    await putCloudTrail('aws.bedrock', 'bedrock.amazonaws.com', 'DeleteAgent', {
      userIdentity: assumed('platform-admin'),
      requestParameters: { agentId: id },
    });
    await eventually(
      async () => (await call('GET', `/v1/discovery/agents/${a.id}`, { token: auditor })).json?.state === 'deleted',
      10_000,
      100,
    );
    const st = (await call('GET', '/v1/discovery/status', { token: auditor })).json;
    expect(st.cloudtrail.events_total).toBeGreaterThanOrEqual(2);
    expect(st.cloudtrail.last_event_lag_ms).toBeGreaterThanOrEqual(0);
  });

  it('takes pushed evidence from an admin or a push source token, merging it into one record per agent', async () => {
    const push = await call('POST', '/v1/discovery/sources', {
      token: admin,
      body: { type: 'push', config: { platform: 'salesforce' } },
    });
    expect(push.status).toBe(201);
    expect(push.json.ingest_token).toMatch(/^arxs_/);
    expect(push.json.token_hash).toBeUndefined();
    const body = {
      agents: [
        {
          platform_native_id: `sf-${tag}`,
          name: `Agentforce ${tag}`,
          owner: { email: 'carol@example.com' },
          declared_capabilities: ['crm:read'],
        },
      ],
    };
    const r = await call('POST', `/v1/discovery/sources/${push.json.source_id}/ingest`, {
      headers: { authorization: `Bearer ${push.json.ingest_token}` },
      body,
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ found: 1, new: 1 });
    const r2 = await call('POST', '/v1/discovery/ingest', {
      token: admin,
      body: {
        agents: [
          { platform: 'salesforce', platform_native_id: `sf-${tag}`, source: 'audit_inference', observed_actions: 3 },
        ],
      },
    });
    expect(r2.json).toMatchObject({ found: 1, new: 0, changed: 1, ids: r.json.ids });
    const a = (await call('GET', `/v1/discovery/agents/${r.json.ids[0]}`, { token: auditor })).json;
    expect(a).toMatchObject({
      platform: 'salesforce',
      owner: { email: 'carol@example.com' },
      observed_actions_30d: 3,
      confidence: 1,
    });
    expect(a.sources.map((s: { source: string }) => s.source)).toEqual(['list_api', 'audit_inference']);
    const listed = await call('GET', '/v1/discovery/sources', { token: auditor });
    expect(listed.json.items.map((s: { source_id: string }) => s.source_id)).toContain(push.json.source_id);
  });

  it('refuses bad input with problem+json and changes nothing', async () => {
    const before = (await call('GET', '/v1/discovery/agents?limit=100', { token: admin })).json.items.length;
    const bad = [
      await call('POST', '/v1/discovery/sources', {
        token: admin,
        body: { type: 'aws_account', config: { regions: ['mars-1'] } },
      }),
      await call('POST', '/v1/discovery/sources', {
        token: admin,
        body: { type: 'aws_account', config: { regions: [REGION], role_arn: 'not-an-arn' } },
      }),
      await call('POST', '/v1/discovery/sources', { token: admin, body: { type: 'ftp', config: {} } }),
      await call('POST', '/v1/discovery/scan', { token: admin, body: { source_id: 'nope' } }),
      await call('POST', '/v1/discovery/scan', { token: otherAdmin, body: {} }), // globex has no AWS source
      await call('POST', '/v1/discovery/ingest', { token: admin, body: { agents: [{ platform_native_id: 'x' }] } }), // no platform
      await call('POST', '/v1/discovery/ingest', {
        token: admin,
        body: { agents: [{ platform: 'x', platform_native_id: 'x', extra: 1 }] },
      }),
      await call('POST', '/v1/discovery/ingest', {
        token: admin,
        body: { agents: [{ platform: 'x', platform_native_id: 'x', observed_at: '2999-01-01T00:00:00Z' }] },
      }),
      await call('POST', '/v1/discovery/ingest', { token: admin, body: { agents: [] } }),
      await call('POST', '/v1/discovery/ingest', {
        token: admin,
        raw: '{not json',
        headers: { 'content-type': 'application/json' },
      }),
      await call('POST', '/v1/discovery/agents/dag_00000000000000000000000000/adopt', {
        token: admin,
        body: { owner: {} },
      }),
      await call('GET', '/v1/discovery/agents?sanctioned=maybe', { token: admin }),
      await call('GET', '/v1/discovery/agents?next_token=garbage', { token: admin }),
    ];
    expect(bad.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    for (const r of bad) expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(
      (await call('POST', '/v1/discovery/scan', { token: admin, body: { source_id: 'src_01NOTTHERE' } })).status,
    ).toBe(404);
    expect((await call('GET', '/v1/discovery/scan/scn_nope', { token: admin })).status).toBe(404);
    expect(
      (
        await call('POST', '/v1/discovery/agents/dag_00000000000000000000000000/adopt', {
          token: admin,
          body: { owner: { oidc_sub: 'x' } },
        })
      ).status,
    ).toBe(404);
    expect((await call('POST', '/v1/discovery/scan', { token: auditor, body: {} })).status).toBe(403);
    expect(
      (await call('POST', '/v1/discovery/sources', { body: { type: 'push', config: { platform: 'x' } } })).status,
    ).toBe(401);
    // The per-source route: no token, a wrong token, an unknown source → 401, nothing stored.
    const push = await call('POST', '/v1/discovery/sources', {
      token: admin,
      body: { type: 'push', config: { platform: 'uipath' } },
    });
    const one = { agents: [{ platform_native_id: `never-${tag}` }] };
    expect((await call('POST', `/v1/discovery/sources/${push.json.source_id}/ingest`, { body: one })).status).toBe(401);
    expect(
      (
        await call('POST', `/v1/discovery/sources/${push.json.source_id}/ingest`, {
          headers: { authorization: `Bearer arxs_${'A'.repeat(43)}` },
          body: one,
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await call('POST', `/v1/discovery/sources/src_unknown/ingest`, {
          headers: { authorization: `Bearer ${push.json.ingest_token}` },
          body: one,
        })
      ).status,
    ).toBe(401);
    // Another tenant sees none of acme's discovered agents.
    const acmeItem = (await call('GET', '/v1/discovery/agents?source=list_api&limit=1', { token: admin })).json
      .items[0];
    expect((await call('GET', `/v1/discovery/agents/${acmeItem.id}`, { token: otherAdmin })).status).toBe(404);
    expect((await call('GET', `/v1/discovery/agents/${acmeItem.id}/history`, { token: otherAdmin })).status).toBe(404);
    expect((await call('GET', '/v1/discovery/agents?limit=100', { token: admin })).json.items.length).toBe(before);
  });
});
