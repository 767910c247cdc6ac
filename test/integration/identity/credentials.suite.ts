/**
 * The credential broker against moto (STS, IAM, Secrets Manager, DynamoDB): the per-tenant role
 * registry (F1), the revoke-older-sessions deny and RFC 7009 revocation at termination (F6), the
 * OAuth secret prefix and token-endpoint allowlist (F12b). moto's STS does not enforce session
 * policies or external ids, so the tests read back what ARX decided and sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { admin, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';
import { AwsStsIssuer, REVOKED_SESSIONS_POLICY } from '../../../lambdas/identity/adapters/credential-issuers.js';
import { createCredentialBroker } from '../../../lambdas/identity/broker.js';
import type { StsPort } from '../../../lambdas/identity/core/broker.js';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import type { ActionRecord, ActionStatus } from '../../../lambdas/actions/core/model.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { IdentityCredentialRevoker } from '../../../lambdas/killswitch/adapters/peers.js';
import { awsConnector } from '../../../lambdas/actions/connectors/aws.js';
import { CreateUserCommand, GetUserCommand } from '@aws-sdk/client-iam';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const A = uniqueTenant();
const B = uniqueTenant();
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const iam = new IAMClient({});
const ACCOUNT = '123456789012';
const roleA = `arn:aws:iam::${ACCOUNT}:role/arx-connector-${A}`;
const roleB = `arn:aws:iam::${ACCOUNT}:role/arx-connector-${B}`;

/** Records what the broker sends to STS, then calls moto's real STS. */
class RecordingSts implements StsPort {
  readonly calls: Parameters<StsPort['assumeRole']>[0][] = [];
  private readonly real = new AwsStsIssuer(new STSClient({}));
  async assumeRole(req: Parameters<StsPort['assumeRole']>[0]) {
    this.calls.push(req);
    return this.real.assumeRole(req);
  }
}

async function register(tenant: string) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({ platform: 'custom', platform_native_id: `n-${Math.random()}`, owner: { oidc_sub: 'alice' } }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string };
}

let actionSeq = 0;
/** A governed action as the actions capability stores it (permitted, waiting for execution by default). */
async function action(tenant: string, agentId: string, over: Partial<ActionRecord> = {}): Promise<ActionRecord> {
  const at = new Date().toISOString();
  const rec: ActionRecord = {
    action_id: `act_${tenant}_${++actionSeq}`,
    tenant_id: tenant,
    agent_id: agentId,
    connector: 'aws',
    operation: 'iam:DeleteUser',
    action: 'aws:iam:DeleteUser',
    params: { user_name: 'leaver' },
    binding_hash: 'x'.repeat(64),
    status: 'pending_execution' as ActionStatus,
    decision: {
      effect: 'permit',
      approval: 'none',
      risk: 'low',
      policy: null,
      determining_policies: ['p0'],
      errors: [],
      bundle_version: '1',
      evaluation_ms: 1,
    },
    correlation_id: 'corr-1',
    trace_id: '0'.repeat(32),
    traceparent: `00-${'0'.repeat(31)}1-${'0'.repeat(15)}1-01`,
    attempts: 0,
    created_at: at,
    updated_at: at,
    ...over,
  };
  await new DynamoActionStore(h.env.ARX_CONTROL_TABLE!).create(rec);
  return rec;
}

const issue = (tenant: string, body: unknown) =>
  h.credentials('POST', '/v1/credentials/issue', { auth: admin(tenant), ...h.json(body) });
const putRole = (tenant: string, name: string, body: unknown) =>
  h.credentials('PUT', '/v1/credentials/roles/{name}', { params: { name }, auth: admin(tenant), ...h.json(body) });

let as: Server;
let asUrl: string;
const asRequests: { path: string; auth: string | undefined; body: URLSearchParams }[] = [];

beforeAll(async () => {
  h = await sharedIdentity();
  for (const arn of [roleA, roleB]) {
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        },
      ],
    };
    await iam.send(
      new CreateRoleCommand({
        RoleName: arn.split('/')[1]!,
        AssumeRolePolicyDocument: JSON.stringify(trust),
        Tags: [{ Key: 'arx:credential-role', Value: 'true' }],
      }),
    );
  }
  expect((await putRole(A, 'default', { role_arn: roleA })).status).toBe(200);
  expect((await putRole(B, 'default', { role_arn: roleB, description: "B's connector role" })).status).toBe(200);
  // A loopback authorization server: client credentials at /token, RFC 7009 revocation at /revoke.
  as = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = new URLSearchParams(data);
      asRequests.push({ path: req.url ?? '', auth: req.headers.authorization, body });
      const ok = req.headers.authorization === `Basic ${Buffer.from('client-1:s3cret').toString('base64')}`;
      if (req.url === '/revoke') {
        res.writeHead(ok ? 200 : 401).end();
        return;
      }
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          ok
            ? { access_token: `at-${asRequests.length}`, token_type: 'Bearer', expires_in: 300 }
            : { error: 'invalid_client' },
        ),
      );
    });
  });
  await new Promise<void>((r) => as.listen(0, '127.0.0.1', r));
  asUrl = `http://127.0.0.1:${(as.address() as AddressInfo).port}`;
  const sm = new SecretsManagerClient({});
  for (const t of [A, B]) {
    await sm.send(
      new CreateSecretCommand({
        Name: `arx/${t}/oauth/crm`,
        SecretString: JSON.stringify({ client_secret: 's3cret' }),
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: `arx/${t}/slack`,
        SecretString: JSON.stringify({ bot_token: 'xoxb-secret', signing_secret: 'sig' }),
      }),
    );
  }
});
afterAll(async () => {
  await new Promise((r) => as.close(r));
});

describe('credential role registry (F1, against moto)', () => {
  it('F1: answers the registered role with the external id ARX generated for the tenant, and audits the change', async () => {
    const a = await h.credentials('GET', '/v1/credentials/roles/{name}', {
      params: { name: 'default' },
      auth: admin(A),
    });
    const b = await h.credentials('GET', '/v1/credentials/roles/{name}', {
      params: { name: 'default' },
      auth: admin(B),
    });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ name: 'default', role_arn: roleA, updated_by: 'admin-1' });
    expect(a.json.external_id).toMatch(new RegExp(`^arx-${A}-[A-Za-z0-9_-]{32}$`));
    expect(b.json.external_id).not.toBe(a.json.external_id);
    const list = await h.credentials('GET', '/v1/credentials/roles', { auth: admin(A) });
    expect(list.json.items.map((i: { role_arn: string }) => i.role_arn)).toEqual([roleA]);
    const events = await new DynamoEventStore(h.env.ARX_AUDIT_TABLE!).listEvents(A, {
      type: 'identity.credential_role.registered',
      limit: 10,
    });
    expect(events.items.map((e) => e.target)).toEqual(['default']);
  });

  it("F1: refuses to register a role ARN registered to another tenant (409) and B's registry is unchanged", async () => {
    const r = await putRole(A, 'stolen', { role_arn: roleB });
    expect(r.status).toBe(409);
    expect(
      (await h.credentials('GET', '/v1/credentials/roles/{name}', { params: { name: 'stolen' }, auth: admin(A) }))
        .status,
    ).toBe(404);
    expect(
      (await h.credentials('GET', '/v1/credentials/roles/{name}', { params: { name: 'default' }, auth: admin(B) })).json
        .role_arn,
    ).toBe(roleB);
    // Nor can A delete or read B's entry: names are per tenant.
    const other = uniqueTenant();
    expect(
      (
        await h.credentials('DELETE', '/v1/credentials/roles/{name}', {
          params: { name: 'default' },
          auth: admin(other),
        })
      ).status,
    ).toBe(404);
  });

  it('F1: there is no shared default role: a tenant with no registered role gets no session', async () => {
    const t = uniqueTenant();
    const agent = await register(t);
    const act = await action(t, agent.agent_id);
    const r = await issue(t, { agent_id: agent.agent_id, action_id: act.action_id, target: { kind: 'aws' } });
    expect(r.status).toBe(403);
  });

  it('F1: issue refuses role_arn, external_id, actions and resources from the caller (400, nothing issued)', async () => {
    const agent = await register(A);
    const act = await action(A, agent.agent_id);
    for (const extra of [
      { role_arn: roleB },
      { external_id: 'guessed' },
      { actions: ['s3:Get*'] },
      { resources: ['arn:aws:s3:::*'] },
    ]) {
      const r = await issue(A, {
        agent_id: agent.agent_id,
        action_id: act.action_id,
        target: { kind: 'aws', ...extra },
      });
      expect(r.status).toBe(400);
    }
    const rows = await ddb.send(
      new QueryCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#${A}#CREDBIND#${agent.agent_id}` },
      }),
    );
    expect(rows.Items).toHaveLength(0);
  });

  it("F1: A's admin cannot get a session of B's role: not by a name in B's registry, not for B's action, not for an unpermitted action", async () => {
    const agentA = await register(A);
    const agentB = await register(B);
    const actB = await action(B, agentB.agent_id);
    // B's action id from A's tenant: not found.
    expect(
      (await issue(A, { agent_id: agentA.agent_id, action_id: actB.action_id, target: { kind: 'aws' } })).status,
    ).toBe(404);
    // A role name A never registered (B's "default" is B's): refused.
    const actA = await action(A, agentA.agent_id);
    expect(
      (
        await issue(A, {
          agent_id: agentA.agent_id,
          action_id: actA.action_id,
          target: { kind: 'aws', role: 'b-connector' },
        })
      ).status,
    ).toBe(403);
    // Held for approval, denied, or already finished: no credential.
    for (const status of ['pending_approval', 'denied', 'executed'] as ActionStatus[]) {
      const held = await action(A, agentA.agent_id, { status });
      expect(
        (await issue(A, { agent_id: agentA.agent_id, action_id: held.action_id, target: { kind: 'aws' } })).status,
      ).toBe(403);
    }
    // Another agent's action of the same tenant: not found.
    const other = await register(A);
    expect(
      (await issue(A, { agent_id: other.agent_id, action_id: actA.action_id, target: { kind: 'aws' } })).status,
    ).toBe(404);
    // aws target without action_id: 400.
    expect((await issue(A, { agent_id: agentA.agent_id, target: { kind: 'aws' } })).status).toBe(400);
  });

  it('F1: issues a session of the registered role scoped to exactly the permitted action (no wildcard), with the tenant external id', async () => {
    const agent = await register(A);
    const act = await action(A, agent.agent_id);
    const r = await issue(A, { agent_id: agent.agent_id, action_id: act.action_id, target: { kind: 'aws' } });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json.audience).toBe(roleA);
    expect(r.json.scope_actually_granted).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ArxActionScope',
          Effect: 'Allow',
          Action: ['iam:DeleteUser'],
          Resource: [`arn:aws:iam::${ACCOUNT}:user/leaver`],
        },
      ],
    });
    const who = await new STSClient({
      credentials: {
        accessKeyId: r.json.token.access_key_id,
        secretAccessKey: r.json.token.secret_access_key,
        sessionToken: r.json.token.session_token,
      },
    }).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toContain(`arx-connector-${A}`);

    // In process (the actions capability's path): what ARX sends to STS, read back via its adapter.
    const sts = new RecordingSts();
    const broker = createCredentialBroker({
      controlTable: h.env.ARX_CONTROL_TABLE!,
      revocationTable: h.env.ARX_REVOCATION_TABLE!,
      sts,
    });
    const extId = (
      await h.credentials('GET', '/v1/credentials/roles/{name}', { params: { name: 'default' }, auth: admin(A) })
    ).json.external_id;
    await broker.awsCredentials({
      tenantId: A,
      agentId: agent.agent_id,
      actionId: act.action_id,
      actions: ['s3:DeleteBucket'],
      resources: ['arn:aws:s3:::doomed'],
      externalId: 'caller-chosen',
      roleArn: roleA,
    });
    expect(sts.calls).toEqual([
      expect.objectContaining({
        roleArn: roleA,
        externalId: extId,
        sourceIdentity: agent.agent_id,
        durationSeconds: 900,
        sessionName: `arx-${agent.agent_id}`,
      }),
    ]);
    // B's role ARN in process (e.g. pasted into A's aws connector config): refused, nothing sent.
    await expect(
      broker.awsCredentials({
        tenantId: A,
        agentId: agent.agent_id,
        actionId: 'x',
        actions: ['s3:DeleteBucket'],
        resources: ['arn:aws:s3:::b'],
        roleArn: roleB,
      }),
    ).rejects.toMatchObject({ status: 403 });
    expect(sts.calls).toHaveLength(1);
  });

  it('F1: the aws connector runs a permitted iam:DeleteUser through the in-process broker on the tenant role (actions functions path)', async () => {
    const agent = await register(A);
    const user = `leaver-${A}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const sts = new RecordingSts();
    const broker = createCredentialBroker({
      controlTable: h.env.ARX_CONTROL_TABLE!,
      revocationTable: h.env.ARX_REVOCATION_TABLE!,
      sts,
    });
    const ctx = (config: Record<string, unknown> | null) => ({
      tenantId: A,
      agentId: agent.agent_id,
      actionId: 'act-aws-1',
      correlationId: 'c',
      traceparent: `00-${'0'.repeat(31)}1-${'0'.repeat(15)}1-01`,
      config,
      secret: async () => ({ external_id: 'from-the-connector-secret' }),
      credentials: broker,
      fetch: globalThis.fetch,
    });
    const out = await awsConnector.execute(ctx({ region: 'us-east-1' }), 'iam:DeleteUser', { user_name: user });
    expect(out).toEqual({ deleted: { user_name: user } });
    await expect(iam.send(new GetUserCommand({ UserName: user }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    expect(sts.calls[0]).toMatchObject({ roleArn: roleA, sourceIdentity: agent.agent_id });
    expect(sts.calls[0]!.externalId).not.toBe('from-the-connector-secret');
    expect(JSON.parse(sts.calls[0]!.policy).Statement[0].Resource).toEqual([`arn:aws:iam::${ACCOUNT}:user/${user}`]);
    // Pointing the connector at B's role fails closed: nothing assumed, nothing deleted.
    await iam.send(new CreateUserCommand({ UserName: `${user}-2` }));
    await expect(
      awsConnector.execute(ctx({ role_arn: roleB }), 'iam:DeleteUser', { user_name: `${user}-2` }),
    ).rejects.toMatchObject({ code: 'credentials_unavailable' });
    expect(sts.calls).toHaveLength(1);
    expect((await iam.send(new GetUserCommand({ UserName: `${user}-2` }))).User?.UserName).toBe(`${user}-2`);
  });

  it('F1: bad registry input is a 4xx problem and stores nothing', async () => {
    const t = uniqueTenant();
    for (const body of [
      { role_arn: 'not-an-arn' },
      { role_arn: 'arn:aws:iam::123456789012:user/x' },
      { role_arn: roleA, external_id: 'mine' },
      {},
    ]) {
      const r = await putRole(t, 'x', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    expect((await putRole(t, 'Bad_Name', { role_arn: `arn:aws:iam::${ACCOUNT}:role/bad-${t}` })).status).toBe(400);
    expect((await h.credentials('GET', '/v1/credentials/roles', { auth: admin(t) })).json.items).toEqual([]);
    expect(
      (
        await h.credentials('PUT', '/v1/credentials/token-endpoints/{name}', {
          params: { name: 'x' },
          auth: admin(t),
          ...h.json({ token_endpoint: 'not a url' }),
        })
      ).status,
    ).toBe(400);
    expect((await h.credentials('GET', '/v1/credentials/token-endpoints', { auth: admin(t) })).json.items).toEqual([]);
  });

  it('F1: a deleted role is no longer assumed (audited)', async () => {
    const t = uniqueTenant();
    const arn = `arn:aws:iam::${ACCOUNT}:role/arx-temp-${t}`;
    expect((await putRole(t, 'temp', { role_arn: arn })).status).toBe(200);
    expect(
      (await h.credentials('DELETE', '/v1/credentials/roles/{name}', { params: { name: 'temp' }, auth: admin(t) }))
        .status,
    ).toBe(204);
    const agent = await register(t);
    const act = await action(t, agent.agent_id);
    expect(
      (await issue(t, { agent_id: agent.agent_id, action_id: act.action_id, target: { kind: 'aws', role: 'temp' } }))
        .status,
    ).toBe(403);
    const events = await new DynamoEventStore(h.env.ARX_AUDIT_TABLE!).listEvents(t, {
      type: 'identity.credential_role.deleted',
      limit: 10,
    });
    expect(events.items).toHaveLength(1);
    // The ARN is free again once deleted.
    expect((await putRole(uniqueTenant(), 'default', { role_arn: arn })).status).toBe(200);
  });
});

describe('OAuth through the broker (F12b, against moto)', () => {
  const oauthTarget = (over: Record<string, unknown> = {}) => ({
    kind: 'oauth',
    token_endpoint: `${asUrl}/token`,
    client_id: 'client-1',
    client_secret_id: `arx/${A}/oauth/crm`,
    resource: 'https://crm.example.com/api',
    ...over,
  });

  it("F12b: refuses the Slack secret and an endpoint not on the tenant's allowlist; nothing reaches the server", async () => {
    const agent = await register(A);
    const before = asRequests.length;
    // Not allowlisted yet: 403.
    expect((await issue(A, { agent_id: agent.agent_id, target: oauthTarget() })).status).toBe(403);
    const put = await h.credentials('PUT', '/v1/credentials/token-endpoints/{name}', {
      params: { name: 'crm' },
      auth: admin(A),
      ...h.json({ token_endpoint: `${asUrl}/token`, revocation_endpoint: `${asUrl}/revoke` }),
    });
    expect(put.status).toBe(200);
    // The review's attack: the Slack secret sent as Basic auth to a token endpoint the caller chose.
    expect(
      (await issue(A, { agent_id: agent.agent_id, target: oauthTarget({ client_secret_id: `arx/${A}/slack` }) }))
        .status,
    ).toBe(404);
    expect(
      (
        await issue(A, {
          agent_id: agent.agent_id,
          target: oauthTarget({ token_endpoint: 'https://attacker.example/t' }),
        })
      ).status,
    ).toBe(403);
    expect(
      (await issue(A, { agent_id: agent.agent_id, target: oauthTarget({ client_secret_id: `arx/${B}/oauth/crm` }) }))
        .status,
    ).toBe(404);
    // B's allowlist is B's: A's endpoint entry does not exist there.
    expect(
      (
        await h.credentials('GET', '/v1/credentials/token-endpoints/{name}', {
          params: { name: 'crm' },
          auth: admin(B),
        })
      ).status,
    ).toBe(404);
    expect(asRequests.length).toBe(before);
    // http (non-loopback) endpoints cannot even be allowlisted.
    const bad = await h.credentials('PUT', '/v1/credentials/token-endpoints/{name}', {
      params: { name: 'plain' },
      auth: admin(A),
      ...h.json({ token_endpoint: 'http://as.example/token' }),
    });
    expect(bad.status).toBe(400);
    const ok = await issue(A, { agent_id: agent.agent_id, target: oauthTarget({ scope: ['contacts.read'] }) });
    expect(ok.status).toBe(200);
    expect(asRequests.at(-1)!.body.get('resource')).toBe('https://crm.example.com/api');
  });
});

describe('termination revokes issued credentials (F6, against moto)', () => {
  it('F6: the kill switch credential step puts a SourceIdentity/TokenIssueTime deny on every registered role and revokes OAuth tokens per RFC 7009', async () => {
    const agent = await register(A);
    // Ensure the allowlist entry exists (independent of test order).
    await h.credentials('PUT', '/v1/credentials/token-endpoints/{name}', {
      params: { name: 'crm' },
      auth: admin(A),
      ...h.json({ token_endpoint: `${asUrl}/token`, revocation_endpoint: `${asUrl}/revoke` }),
    });
    const act = await action(A, agent.agent_id);
    expect(
      (await issue(A, { agent_id: agent.agent_id, action_id: act.action_id, target: { kind: 'aws' } })).status,
    ).toBe(200);
    const tok = await issue(A, {
      agent_id: agent.agent_id,
      target: {
        kind: 'oauth',
        token_endpoint: `${asUrl}/token`,
        client_id: 'client-1',
        client_secret_id: `arx/${A}/oauth/crm`,
        resource: 'https://crm.example.com/api',
      },
    });
    expect(tok.status).toBe(200);
    const before = new Date();
    const revoker = new IdentityCredentialRevoker(
      createCredentialBroker({ controlTable: h.env.ARX_CONTROL_TABLE!, revocationTable: h.env.ARX_REVOCATION_TABLE! }),
    );
    const out = await revoker.revokeAgentCredentials(A, agent.agent_id);
    expect(out.credentials).toEqual(
      expect.arrayContaining([
        { kind: 'sts-sessions', denied_on_roles: 1 },
        { kind: 'oauth-tokens', revoked: 1, unrevocable: 0 },
      ]),
    );
    // The deny is on A's role afterwards (moto IAM), naming the agent and a time ≥ the termination.
    const pol = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleA.split('/')[1]!, PolicyName: REVOKED_SESSIONS_POLICY }),
    );
    const doc = JSON.parse(decodeURIComponent(pol.PolicyDocument!));
    const stmt = doc.Statement.find(
      (s: { Condition: { StringEquals: Record<string, string> } }) =>
        s.Condition.StringEquals['aws:SourceIdentity'] === agent.agent_id,
    );
    expect(stmt).toMatchObject({ Effect: 'Deny', Action: '*', Resource: '*' });
    expect(Date.parse(stmt.Condition.DateLessThan['aws:TokenIssueTime'])).toBeGreaterThanOrEqual(
      before.getTime() - 1000,
    );
    // B's role is untouched by A's termination.
    await expect(
      iam.send(new GetRolePolicyCommand({ RoleName: roleB.split('/')[1]!, PolicyName: REVOKED_SESSIONS_POLICY })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    // RFC 7009: the server got the token with token_type_hint, client authenticated.
    const rev = asRequests.filter((r) => r.path === '/revoke');
    expect(rev.at(-1)!.body.get('token')).toBe(tok.json.token.access_token);
    expect(rev.at(-1)!.body.get('token_type_hint')).toBe('access_token');
    expect(rev.at(-1)!.auth).toBe(`Basic ${Buffer.from('client-1:s3cret').toString('base64')}`);
    // A second termination of another agent merges into the same policy; the first deny stays.
    const second = await register(A);
    await revoker.revokeAgentCredentials(A, second.agent_id);
    const doc2 = JSON.parse(
      decodeURIComponent(
        (
          await iam.send(
            new GetRolePolicyCommand({ RoleName: roleA.split('/')[1]!, PolicyName: REVOKED_SESSIONS_POLICY }),
          )
        ).PolicyDocument!,
      ),
    );
    const ids = doc2.Statement.map(
      (s: { Condition: { StringEquals: Record<string, string> } }) => s.Condition.StringEquals['aws:SourceIdentity'],
    );
    expect(ids).toEqual(expect.arrayContaining([agent.agent_id, second.agent_id]));
    // Revoking again is idempotent: the token record is gone, nothing is sent twice.
    const n = rev.length;
    await revoker.revokeAgentCredentials(A, agent.agent_id);
    expect(asRequests.filter((r) => r.path === '/revoke')).toHaveLength(n);
  });
});
