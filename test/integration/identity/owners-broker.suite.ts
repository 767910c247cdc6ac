import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { admin, auditor, BOOT, GRANT, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
const TENANT = uniqueTenant();
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

async function register(owner = 'alice', tenant = TENANT) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({ platform: 'custom', platform_native_id: `n-${Math.random()}`, owner: { oidc_sub: owner } }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string; spiffe_id: string; bootstrap_token: string };
}

beforeAll(async () => {
  h = await sharedIdentity();
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
    expect(orphans.json.items.map((i: { agent_id: string }) => i.agent_id).sort()).toEqual(
      [a.agent_id, b.agent_id].sort(),
    );
    expect(orphans.json.items.map((i: { agent_id: string }) => i.agent_id)).not.toContain(keep.agent_id);
    // b gets a new owner before the sweep; a does not.
    const assigned = await h.api('POST', '/v1/identity/agents/{id}/owner', {
      params: { id: b.agent_id },
      auth: admin(TENANT),
      ...h.json({ owner: { oidc_sub: 'dave', team: 'sec' } }),
    });
    expect(assigned.status).toBe(200);
    expect(assigned.json.owner).toMatchObject({ oidc_sub: 'dave', status: 'live', attestation_method: 'api' });
    const { handler } = await import('../../../lambdas/identity/handlers/orphan-sweeper.js');
    const { lambdaContext } = await import('./harness.js');
    await (handler as unknown as (e: unknown, c: unknown) => Promise<void>)(
      {},
      lambdaContext('identity-orphan-sweeper'),
    );
    const ra = await h.api('GET', '/v1/identity/agents/{id}', { params: { id: a.agent_id }, auth: admin(TENANT) });
    expect(ra.json.status).toBe('suspended');
    const rb = await h.api('GET', '/v1/identity/agents/{id}', { params: { id: b.agent_id }, auth: admin(TENANT) });
    expect(rb.json.status).toBe('active');
    const drl = await ddb.send(
      new GetCommand({ TableName: h.env.ARX_REVOCATION_TABLE, Key: { tenant_id: TENANT, agent_id: a.agent_id } }),
    );
    expect(drl.Item?.reason_code).toBe('suspended');
    // A suspended agent cannot exchange tokens any more.
    const rot = await h.api('POST', '/v1/identity/agents/{id}/rotate', {
      params: { id: a.agent_id },
      auth: admin(TENANT),
    });
    const ex = await h.api(
      'POST',
      '/v1/identity/token',
      h.form({ grant_type: GRANT, subject_token: rot.json.bootstrap_token, subject_token_type: BOOT }),
    );
    expect(ex.status).toBe(400);
    expect(ex.json.error).toBe('invalid_grant');
  });

  it('re-attests the current owner and keeps the SCD-2 history', async () => {
    const a = await register('erin');
    const r = await h.api('POST', '/v1/identity/agents/{id}/owner', {
      params: { id: a.agent_id },
      auth: admin(TENANT),
      ...h.json({ owner: { oidc_sub: 'erin' } }),
    });
    expect(r.status).toBe(200);
    expect(r.json.owner.attestation_method).toBe('reattest');
    expect(r.json.version).toBe(2);
    expect(
      (
        await h.api('POST', '/v1/identity/agents/{id}/owner', {
          params: { id: a.agent_id },
          auth: admin(TENANT),
          ...h.json({ owner: { oidc_sub: 'x' }, extra: 1 }),
        })
      ).status,
    ).toBe(400);
  });
});
