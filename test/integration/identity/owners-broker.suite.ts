import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { SecretsManagerClient, CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { admin, auditor, BOOT, CREDENTIAL_ROLE, GRANT, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';
import { AwsStsIssuer } from '../../../lambdas/identity/adapters/credential-issuers.js';
import { createCredentialBroker } from '../../../lambdas/identity/broker.js';
import type { StsPort } from '../../../lambdas/identity/core/broker.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const TENANT = uniqueTenant();
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const ROLE = CREDENTIAL_ROLE;

async function register(owner = 'alice', tenant = TENANT) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({ platform: 'custom', platform_native_id: `n-${Math.random()}`, owner: { oidc_sub: owner } }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string; spiffe_id: string; bootstrap_token: string };
}

/** Records what the broker sends to STS, then calls moto's real STS. */
class RecordingSts implements StsPort {
  readonly calls: Parameters<StsPort['assumeRole']>[0][] = [];
  private readonly real = new AwsStsIssuer(new STSClient({}));
  async assumeRole(req: Parameters<StsPort['assumeRole']>[0]) {
    this.calls.push(req);
    return this.real.assumeRole(req);
  }
}

let tokenServer: Server;
let tokenUrl: string;
const tokenRequests: { auth: string | undefined; body: URLSearchParams }[] = [];

beforeAll(async () => {
  h = await sharedIdentity();
  tokenServer = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = new URLSearchParams(data);
      tokenRequests.push({ auth: req.headers.authorization, body });
      const ok = req.headers.authorization === `Basic ${Buffer.from('client-1:s3cret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { access_token: `at-${tokenRequests.length}`, token_type: 'Bearer', expires_in: 300, scope: body.get('scope') } : { error: 'invalid_client' }));
    });
  });
  await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/oauth/token`;
});
afterAll(async () => {
  await new Promise((r) => tokenServer.close(r));
});

describe('owner binding (against moto)', () => {
  it('orphans the agents of a leaver, lists them, and the sweeper suspends them after the grace period', async () => {
    const a = await register('bob');
    const b = await register('bob');
    const keep = await register('carol');
    const left = await h.api('POST', '/v1/identity/leavers', { auth: admin(TENANT), ...h.json({ oidc_sub: 'bob' }) });
    expect(left.status).toBe(200);
    expect(left.json.orphaned.sort()).toEqual([a.agent_id, b.agent_id].sort());
    const orphans = await h.api('GET', '/v1/identity/agents/orphans', { auth: auditor(TENANT) });
    expect(orphans.status).toBe(200);
    expect(orphans.json.items.map((i: { agent_id: string }) => i.agent_id).sort()).toEqual([a.agent_id, b.agent_id].sort());
    expect(orphans.json.items.map((i: { agent_id: string }) => i.agent_id)).not.toContain(keep.agent_id);
    // b gets a new owner before the sweep; a does not.
    const assigned = await h.api('POST', '/v1/identity/agents/{id}/owner', { params: { id: b.agent_id }, auth: admin(TENANT), ...h.json({ owner: { oidc_sub: 'dave', team: 'sec' } }) });
    expect(assigned.status).toBe(200);
    expect(assigned.json.owner).toMatchObject({ oidc_sub: 'dave', status: 'live', attestation_method: 'api' });
    const { handler } = await import('../../../lambdas/identity/handlers/orphan-sweeper.js');
    const { lambdaContext } = await import('./harness.js');
    await (handler as unknown as (e: unknown, c: unknown) => Promise<void>)({}, lambdaContext('identity-orphan-sweeper'));
    const ra = await h.api('GET', '/v1/identity/agents/{id}', { params: { id: a.agent_id }, auth: admin(TENANT) });
    expect(ra.json.status).toBe('suspended');
    const rb = await h.api('GET', '/v1/identity/agents/{id}', { params: { id: b.agent_id }, auth: admin(TENANT) });
    expect(rb.json.status).toBe('active');
    const drl = await ddb.send(new GetCommand({ TableName: h.env.ARX_REVOCATION_TABLE, Key: { tenant_id: TENANT, agent_id: a.agent_id } }));
    expect(drl.Item?.reason_code).toBe('suspended');
    // A suspended agent cannot exchange tokens any more.
    const rot = await h.api('POST', '/v1/identity/agents/{id}/rotate', { params: { id: a.agent_id }, auth: admin(TENANT) });
    const ex = await h.api('POST', '/v1/identity/token', h.form({ grant_type: GRANT, subject_token: rot.json.bootstrap_token, subject_token_type: BOOT }));
    expect(ex.status).toBe(400);
    expect(ex.json.error).toBe('invalid_grant');
  });

  it('re-attests the current owner and keeps the SCD-2 history', async () => {
    const a = await register('erin');
    const r = await h.api('POST', '/v1/identity/agents/{id}/owner', { params: { id: a.agent_id }, auth: admin(TENANT), ...h.json({ owner: { oidc_sub: 'erin' } }) });
    expect(r.status).toBe(200);
    expect(r.json.owner.attestation_method).toBe('reattest');
    expect(r.json.version).toBe(2);
    expect((await h.api('POST', '/v1/identity/agents/{id}/owner', { params: { id: a.agent_id }, auth: admin(TENANT), ...h.json({ owner: { oidc_sub: 'x' }, extra: 1 }) })).status).toBe(400);
  });
});

describe('credential broker (against moto)', () => {
  it('issues STS credentials with a session policy narrowed to the action, caches them ≤ 60 s, and cascades revocation', async () => {
    const sts = new RecordingSts();
    const broker = createCredentialBroker({ controlTable: h.env.ARX_CONTROL_TABLE!, revocationTable: h.env.ARX_REVOCATION_TABLE!, defaultRoleArn: ROLE, sts });
    const a = await register();
    const req = { tenantId: TENANT, agentId: a.agent_id, actionId: 'act-1', actions: ['s3:DeleteBucket'], resources: ['arn:aws:s3:::doomed-bucket'] };
    const creds = await broker.awsCredentials(req);
    expect(creds.accessKeyId).toBeTruthy();
    expect(sts.calls).toHaveLength(1);
    expect(JSON.parse(sts.calls[0]!.policy)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'ArxActionScope', Effect: 'Allow', Action: ['s3:DeleteBucket'], Resource: ['arn:aws:s3:::doomed-bucket'] }],
    });
    expect(sts.calls[0]).toMatchObject({ roleArn: ROLE, sessionName: `arx-${a.agent_id}`, durationSeconds: 900 });
    // The session is real: moto answers with the assumed role.
    const who = await new STSClient({ credentials: creds }).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toContain('arx-target-role');
    // Same (agent, target, scope): served from the cache; another scope: a new session.
    expect((await broker.awsCredentials({ ...req, actionId: 'act-2' })).accessKeyId).toBe(creds.accessKeyId);
    expect(sts.calls).toHaveLength(1);
    await broker.awsCredentials({ ...req, resources: ['arn:aws:s3:::other'] });
    expect(sts.calls).toHaveLength(2);
    const rows = await ddb.send(new QueryCommand({ TableName: h.env.ARX_CONTROL_TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': `T#${TENANT}#CREDBIND#${a.agent_id}` } }));
    expect(rows.Items).toHaveLength(2);
    expect(JSON.stringify(rows.Items)).not.toContain(creds.secretAccessKey);
    // Revocation cascades: cache evicted, bindings deleted, no further credential.
    const out = await broker.revokeAgentCredentials(TENANT, a.agent_id);
    expect(out).toEqual({ cache_evicted: 2, bindings_revoked: 2 });
    const rev = await h.api('POST', '/v1/identity/agents/{id}/revoke', { params: { id: a.agent_id }, auth: admin(TENANT) });
    expect(rev.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    await expect(broker.awsCredentials(req)).rejects.toMatchObject({ status: 403 });
    expect(sts.calls).toHaveLength(2);
  });

  it('refuses a bare "*" resource and an unscoped action', async () => {
    const sts = new RecordingSts();
    const broker = createCredentialBroker({ controlTable: h.env.ARX_CONTROL_TABLE!, revocationTable: h.env.ARX_REVOCATION_TABLE!, defaultRoleArn: ROLE, sts });
    const a = await register();
    await expect(broker.awsCredentials({ tenantId: TENANT, agentId: a.agent_id, actions: ['s3:DeleteBucket'], resources: ['*'] })).rejects.toMatchObject({ status: 400 });
    await expect(broker.awsCredentials({ tenantId: TENANT, agentId: a.agent_id, actions: ['s3:*'], resources: ['arn:aws:s3:::b'] })).rejects.toMatchObject({ status: 400 });
    expect(sts.calls).toHaveLength(0);
  });

  it('serves POST /v1/credentials/issue: STS for aws targets, OAuth client credentials with an RFC 8707 resource for HTTP', async () => {
    const a = await register();
    const aws = await h.credentials('POST', '/v1/credentials/issue', {
      auth: admin(TENANT),
      ...h.json({ agent_id: a.agent_id, target: { kind: 'aws', actions: ['iam:DeleteUser'], resources: ['arn:aws:iam::123456789012:user/leaver'] } }),
    });
    expect(aws.status).toBe(200);
    expect(aws.headers['cache-control']).toBe('no-store');
    expect(aws.json).toMatchObject({ audience: ROLE, cached: false });
    expect(aws.json.token.access_key_id).toBeTruthy();
    expect(aws.json.scope_actually_granted.Statement[0].Resource).toEqual(['arn:aws:iam::123456789012:user/leaver']);

    const sm = new SecretsManagerClient({});
    const secretId = `arx/${TENANT}/http-crm`;
    await sm.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ client_secret: 's3cret' }) }));
    const body = { agent_id: a.agent_id, target: { kind: 'oauth', token_endpoint: tokenUrl, client_id: 'client-1', client_secret_id: secretId, resource: 'https://crm.example.com/api', scope: ['contacts.read'] } };
    const first = await h.credentials('POST', '/v1/credentials/issue', { auth: admin(TENANT), ...h.json(body) });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ audience: 'https://crm.example.com/api', scope_actually_granted: 'contacts.read', cached: false });
    expect(first.json.token.access_token).toBe('at-1');
    expect(tokenRequests[0]!.body.get('grant_type')).toBe('client_credentials');
    expect(tokenRequests[0]!.body.get('resource')).toBe('https://crm.example.com/api');
    expect(tokenRequests[0]!.body.get('refresh_token')).toBeNull();
    const second = await h.credentials('POST', '/v1/credentials/issue', { auth: admin(TENANT), ...h.json(body) });
    expect(second.json).toMatchObject({ cached: true });
    expect(tokenRequests).toHaveLength(1);
    // An agent of another tenant (or none) is not found; nothing is issued.
    const stranger = await h.credentials('POST', '/v1/credentials/issue', { auth: admin(uniqueTenant()), ...h.json(body) });
    expect(stranger.status).toBe(404);
    expect(tokenRequests).toHaveLength(1);
    // A secret outside the caller's tenant prefix is not found; nothing is fetched.
    const foreign = await h.credentials('POST', '/v1/credentials/issue', { auth: admin(TENANT), ...h.json({ ...body, target: { ...body.target, client_secret_id: `arx/${uniqueTenant()}/x` } }) });
    expect(foreign.status).toBe(404);
    // Explicit cascade over HTTP: bindings deleted, cache evicted; the next issue is a fresh one.
    const cascade = await h.credentials('POST', '/v1/credentials/revoke', { auth: admin(TENANT), ...h.json({ agent_id: a.agent_id }) });
    expect(cascade.status).toBe(200);
    expect(cascade.json).toEqual({ cache_evicted: 2, bindings_revoked: 2 });
    expect((await h.credentials('POST', '/v1/credentials/issue', { auth: admin(TENANT), ...h.json(body) })).json.cached).toBe(false);
    // The agent is revoked: the cached binding is not served any more.
    await h.api('POST', '/v1/identity/agents/{id}/revoke', { params: { id: a.agent_id }, auth: admin(TENANT) });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await h.credentials('POST', '/v1/credentials/issue', { auth: admin(TENANT), ...h.json(body) })).status).toBe(403);
  });
});
