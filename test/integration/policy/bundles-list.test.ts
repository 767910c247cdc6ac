import { describe, it, expect, beforeAll } from 'vitest';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { encodePageToken } from '../../../lambdas/shared/dynamo.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { apiEvent } from '../../support/api-event.js';
import { policyResources, suffix } from './fixtures.js';
import { ACCESS_REVIEW_SHORT_SLACK } from '../../support/fixtures.js';

const ctx = {
  functionName: 'policy-api',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;
type Res = { statusCode: number; body: string };

const YAML = ACCESS_REVIEW_SHORT_SLACK;
const YAML2 = YAML.replace('"users:deactivate": high', '"users:deactivate": high, "users:create": medium');

describe('GET /v1/policies/bundles', () => {
  let handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>;
  let controlTable: string;
  const tenant = `acme-${suffix()}`;
  const admin: AuthContext = { tenantId: tenant, subject: 'alice', roles: ['admin'], principalType: 'human' };
  const auditor: AuthContext = { ...admin, subject: 'audrey', roles: ['auditor'] };
  const approver: AuthContext = { ...admin, subject: 'bob', roles: ['approver'] };
  const otherAdmin: AuthContext = { ...admin, tenantId: `${tenant}-other`, subject: 'mallory' };

  const call = async (
    routeKey: string,
    who: AuthContext,
    o: { body?: unknown; params?: Record<string, string>; query?: Record<string, string> } = {},
  ) => {
    const [method, route] = routeKey.split(' ') as [string, string];
    const r = (await handler(
      apiEvent({
        method,
        route,
        auth: who,
        ...(o.params ? { params: o.params } : {}),
        ...(o.query ? { query: o.query } : {}),
        ...(o.body !== undefined ? { body: o.body } : {}),
      }),
      ctx,
    )) as Res;
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  const list = (who: AuthContext, query?: Record<string, string>) =>
    call('GET /v1/policies/bundles', who, query ? { query } : {});
  const catalogItems = async (t: string) =>
    (
      await documentClient().send(
        new QueryCommand({
          TableName: controlTable,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': `T#${t}#POLICY#BUNDLES` },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  const pushed: { bundle_id: string; version: number; digest: string }[] = [];

  beforeAll(async () => {
    const r = await policyResources('bundles-list');
    controlTable = r.controlTable;
    const bus = `arx-bus-${suffix()}`;
    await new EventBridgeClient({}).send(new CreateEventBusCommand({ Name: bus }));
    Object.assign(process.env, {
      ARX_BUNDLE_BUCKET: r.bucket,
      ARX_CONTROL_TABLE: r.controlTable,
      ARX_REVOCATION_TABLE: r.revocationTable,
      ARX_INVENTORY_TABLE: r.inventoryTable,
      ARX_SIGNING_KEY_ARN: r.keyArn,
      ARX_EVENT_BUS: bus,
    });
    ({ handler } = (await import('../../../lambdas/policy/handlers/api.js')) as never);
  });

  it('lists nothing, and no live bundle, for a tenant that stored none', async () => {
    expect(await list(admin)).toEqual({ status: 200, body: { items: [], live: null } });
  });

  it('lists every stored bundle newest first, draft, live or previous, with who stored and promoted it', async () => {
    for (const doc of [YAML, YAML2, YAML]) {
      const p = await call('POST /v1/policies/bundles', admin, { body: { format: 'yaml', document: doc } });
      expect(p.status).toBe(201);
      pushed.push(p.body);
    }
    const [v1, v2, v3] = pushed as [(typeof pushed)[0], (typeof pushed)[0], (typeof pushed)[0]];
    expect((await call('POST /v1/policies/bundles/{id}/promote', admin, { params: { id: v1.bundle_id } })).status).toBe(
      200,
    );
    expect((await call('POST /v1/policies/bundles/{id}/promote', admin, { params: { id: v2.bundle_id } })).status).toBe(
      200,
    );

    const r = await list(auditor);
    expect(r.status).toBe(200);
    expect(r.body.next_token).toBeUndefined();
    expect(r.body.items.map((b: { bundle_id: string; status: string }) => [b.bundle_id, b.status])).toEqual([
      [v3.bundle_id, 'draft'],
      [v2.bundle_id, 'live'],
      [v1.bundle_id, 'previous'],
    ]);
    const [d3, d2, d1] = r.body.items;
    expect(d3).toEqual({
      bundle_id: v3.bundle_id,
      version: 3,
      digest: v3.digest,
      status: 'draft',
      source_format: 'yaml',
      policy_count: expect.any(Number),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      created_by: 'alice',
    });
    expect(d2.policy_count).toBeGreaterThan(d3.policy_count); // YAML2 adds users:create
    expect(d2).toMatchObject({ version: 2, digest: v2.digest, last_promoted_by: 'alice' });
    expect(d1).toMatchObject({ version: 1, digest: v1.digest, last_promoted_by: 'alice' });
    expect(Date.parse(d2.last_promoted_at)).toBeGreaterThanOrEqual(Date.parse(d1.last_promoted_at));
    expect(r.body.live).toEqual({
      bundle_id: v2.bundle_id,
      version: 2,
      promoted_at: d2.last_promoted_at,
      promoted_by: 'alice',
    });
  });

  it('pages with next_token: every bundle once, in order', async () => {
    const first = await list(admin, { limit: '2' });
    expect(first.status).toBe(200);
    expect(first.body.items.map((b: { version: number }) => b.version)).toEqual([3, 2]);
    expect(typeof first.body.next_token).toBe('string');
    const second = await list(admin, { limit: '2', next_token: first.body.next_token });
    expect(second.status).toBe(200);
    expect(second.body.items.map((b: { version: number }) => b.version)).toEqual([1]);
    expect(second.body.next_token).toBeUndefined();
    expect(second.body.live.bundle_id).toBe(pushed[1]!.bundle_id);
  });

  it("shows another tenant none of this tenant's bundles, and refuses this tenant's token there (400)", async () => {
    expect(await list(otherAdmin)).toEqual({ status: 200, body: { items: [], live: null } });
    const mine = await list(admin, { limit: '1' });
    const theirs = await list(otherAdmin, { next_token: mine.body.next_token });
    expect(theirs.status).toBe(400);
    expect(theirs.body.errors).toEqual([{ path: 'next_token', message: 'not a token this API issued' }]);
  });

  it('answers bad paging input with 400 and changes nothing', async () => {
    const before = await catalogItems(tenant);
    const forged = encodePageToken({ pk: `T#${tenant}-x#POLICY#BUNDLES`, sk: 'V#000000000002' });
    const altered = encodePageToken({ pk: `T#${tenant}#POLICY#BUNDLES`, sk: 'V#000000000002', extra: 'x' });
    const bad: Record<string, string>[] = [
      { next_token: 'not a token!' },
      { next_token: 'bm90LWpzb24' },
      { next_token: forged },
      { next_token: altered },
      { limit: '0' },
      { limit: '101' },
      { limit: 'many' },
      { status: 'live' },
    ];
    for (const query of bad) {
      const r = await list(admin, query);
      expect(r.status, JSON.stringify(query)).toBe(400);
      expect(r.body).toMatchObject({ status: 400, title: expect.any(String) });
    }
    expect(await catalogItems(tenant)).toEqual(before);
  });

  it('admits admins and auditors only', async () => {
    const r = await list(approver);
    expect(r.status).toBe(403);
    expect((await list(auditor)).status).toBe(200);
  });

  it('lists nothing for a rejected upload', async () => {
    const before = (await list(admin)).body.items.length;
    const bad = await call('POST /v1/policies/bundles', admin, {
      body: { format: 'yaml', document: '- name: x\n  connector: okta\n  operations: {}\n' },
    });
    expect(bad.status).toBe(400);
    expect((await list(admin)).body.items).toHaveLength(before);
    expect(await catalogItems(tenant)).toHaveLength(before);
  });
});
