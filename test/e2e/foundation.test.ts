import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT } from 'jose';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sha256Hex } from '../../lambdas/shared/ids.js';
import { DynamoChangeLog } from '../../lambdas/discovery/adapters/dynamo-change-log.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';

describe('Local runtime: foundation slice over HTTP', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let auditor: string;
  let approver: string;
  let otherTenantAdmin: string;
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

  const registerBody = (n: string, extra: Record<string, unknown> = {}) => ({
    platform: 'langchain',
    platform_native_id: `native-${n}`,
    name: `agent ${n}`,
    owner: { oidc_sub: 'owner-1', email: 'owner1@example.com', team: 'it' },
    ...extra,
  });

  const countAgents = async () => {
    const r = await call('GET', '/v1/discovery/agents?limit=100', { token: admin });
    return (r.json.items as unknown[]).length;
  };

  beforeAll(async () => {
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    approver = await rt.idp.token({ sub: 'mgr', tenant: 'acme', roles: ['approver'] });
    otherTenantAdmin = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['admin'] });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('answers /healthz and a generated OpenAPI 3.1 document without a token', async () => {
    const h = await call('GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toEqual({ status: 'ok' });
    const o = await call('GET', '/openapi.json');
    expect(o.status).toBe(200);
    expect(o.json.openapi).toBe('3.1.0');
    const post = o.json.paths['/v1/identity/agents'].post;
    expect(post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['platform', 'platform_native_id', 'owner']),
    );
    expect(post.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
  });

  it('registers an agent: 201, active, SPIFFE id, one-time bootstrap token stored only as a hash', async () => {
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: registerBody('reg', { cohort: 'reviewers' }),
    });
    expect(r.status).toBe(201);
    expect(r.json.status).toBe('active');
    expect(r.json.agent_id).toMatch(/^agt_[0-9A-Z]{26}$/);
    expect(r.json.spiffe_id).toBe(`spiffe://acme.arx/langchain/${r.json.agent_id}`);
    expect(r.json.bootstrap_token).toMatch(/^arxb_/);

    const control = await ddb.send(new ScanCommand({ TableName: rt.env.ARX_CONTROL_TABLE }));
    const dump = JSON.stringify(control.Items);
    expect(dump).not.toContain(r.json.bootstrap_token);
    expect(
      control.Items!.some(
        (i) => i.pk === `BOOT#${sha256Hex(r.json.bootstrap_token)}` && i.agent_id === r.json.agent_id,
      ),
    ).toBe(true);

    const g = await call('GET', `/v1/identity/agents/${r.json.agent_id}`, { token: auditor });
    expect(g.status).toBe(200);
    expect(g.json).toMatchObject({
      agent_id: r.json.agent_id,
      status: 'active',
      version: 1,
      cohort: 'reviewers',
      human_owner_oidc_sub: 'owner-1',
    });
    expect(g.json.bootstrap_token).toBeUndefined();
  });

  it('emits inventory.change that the consumer records exactly once, even when re-delivered', async () => {
    const r = await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('evt') });
    const log = new DynamoChangeLog(rt.env.ARX_CONTROL_TABLE!);
    const changes = await eventually(async () => {
      const c = await log.list('acme', r.json.agent_id);
      return c.length ? c : null;
    }, 15_000);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      change: 'registered',
      agent_id: r.json.agent_id,
      tenant_id: 'acme',
      version: 1,
    });

    // Re-deliver the same event twice, as EventBridge's at-least-once delivery may.
    const event = { id: 'redelivery', source: 'arx', 'detail-type': 'inventory.change', detail: changes[0] };
    await rt.invoke('discovery-inventory-change', event);
    await rt.invoke('discovery-inventory-change', event);
    expect(await log.list('acme', r.json.agent_id)).toHaveLength(1);
  });

  it('lists agents with filters and pagination, scoped to the caller tenant', async () => {
    await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('p1', { platform: 'crewai' }) });
    await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('p2', { platform: 'crewai' }) });
    await call('POST', '/v1/identity/agents', {
      token: otherTenantAdmin,
      body: registerBody('p3', { platform: 'crewai' }),
    });
    const first = await call('GET', '/v1/discovery/agents?platform=crewai&limit=1', { token: auditor });
    expect(first.status).toBe(200);
    expect(first.json.items).toHaveLength(1);
    expect(first.json.next_token).toBeTruthy();
    const second = await call(
      'GET',
      `/v1/discovery/agents?platform=crewai&limit=1&next_token=${first.json.next_token}`,
      { token: auditor },
    );
    expect(second.json.items).toHaveLength(1);
    expect(second.json.items[0].agent_id).not.toBe(first.json.items[0].agent_id);
    const all = await call('GET', '/v1/discovery/agents?platform=crewai&status=active&owner=owner-1', { token: admin });
    expect(all.json.items.map((a: { tenant_id: string }) => a.tenant_id)).toEqual(['acme', 'acme']);

    // A pagination token is bound to its tenant.
    const foreign = await call('GET', `/v1/discovery/agents?next_token=${first.json.next_token}`, {
      token: otherTenantAdmin,
    });
    expect(foreign.status).toBe(400);
    const badFilter = await call('GET', '/v1/discovery/agents?status=sleeping', { token: admin });
    expect(badFilter.status).toBe(400);
    expect(badFilter.headers.get('content-type')).toContain('application/problem+json');
  });

  it("answers 404 for another tenant's agent", async () => {
    const r = await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('iso') });
    const g = await call('GET', `/v1/identity/agents/${r.json.agent_id}`, { token: otherTenantAdmin });
    expect(g.status).toBe(404);
    expect(g.json.type).toMatch(/not-found/);
  });

  describe('bad input gets a 4xx problem and writes nothing', () => {
    const cases: [string, { raw?: string; body?: unknown; headers?: Record<string, string> }, number][] = [
      ['malformed JSON', { raw: '{"platform": ', headers: { 'content-type': 'application/json' } }, 400],
      ['wrong types', { body: { platform: 7, platform_native_id: true, owner: 'x' } }, 400],
      ['unknown fields', { body: { ...registerBody('u'), is_admin: true } }, 400],
      ['missing owner', { body: { platform: 'x', platform_native_id: 'y' } }, 400],
      ['a body over 256 KB', { body: registerBody('big', { name: 'x'.repeat(300 * 1024) }) }, 413],
      [
        'a non-JSON content type',
        { raw: 'platform=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        415,
      ],
    ];
    for (const [what, req, status] of cases) {
      it(`refuses ${what} with ${status}`, async () => {
        const before = await countAgents();
        const r = await call('POST', '/v1/identity/agents', { token: admin, ...req });
        expect(r.status).toBe(status);
        expect(r.headers.get('content-type')).toContain('application/problem+json');
        expect(r.json).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
        if (status === 400 && what !== 'malformed JSON') expect(r.json.errors.length).toBeGreaterThan(0);
        expect(await countAgents()).toBe(before);
      });
    }

    it('refuses registering the same platform-native agent twice with 409', async () => {
      const a = await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('dup') });
      expect(a.status).toBe(201);
      const before = await countAgents();
      const b = await call('POST', '/v1/identity/agents', { token: admin, body: registerBody('dup') });
      expect(b.status).toBe(409);
      expect(await countAgents()).toBe(before);
    });
  });

  describe('authentication and roles', () => {
    it('answers 401 without a token', async () => {
      expect((await call('GET', '/v1/discovery/agents')).status).toBe(401);
      expect((await call('POST', '/v1/identity/agents', { body: registerBody('noauth') })).status).toBe(401);
    });

    it('answers 401 for an expired token', async () => {
      const expired = await rt.idp.token({
        sub: 'alice',
        tenant: 'acme',
        roles: ['admin'],
        now: new Date(Date.now() - 48 * 3600_000),
        ttlSeconds: 3600,
      });
      expect((await call('GET', '/v1/discovery/agents', { token: expired })).status).toBe(401);
    });

    it('answers 401 for a token signed by another key, and for one with the wrong audience', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ arx_tenant: 'acme', arx_roles: ['admin'] })
        .setProtectedHeader({ alg: 'ES256', kid: rt.idp.kid })
        .setIssuer(rt.idp.issuer)
        .setAudience('arx')
        .setSubject('mallory')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
      expect((await call('GET', '/v1/discovery/agents', { token: forged })).status).toBe(401);
      const wrongAud = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'], audience: 'other' });
      expect((await call('GET', '/v1/discovery/agents', { token: wrongAud })).status).toBe(401);
      expect((await call('GET', '/v1/discovery/agents', { token: 'not.a.jwt' })).status).toBe(401);
    });

    it('answers 403 problem+json for the wrong role, and writes nothing', async () => {
      const before = await countAgents();
      const r = await call('POST', '/v1/identity/agents', { token: auditor, body: registerBody('role') });
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect((await call('GET', '/v1/discovery/agents', { token: approver })).status).toBe(403);
      expect(await countAgents()).toBe(before);
    });
  });
});
