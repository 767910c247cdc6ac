import { describe, it, expect, beforeAll } from 'vitest';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { withEnvironment } from '../../../lambdas/shared/settings.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { apiEvent } from '../../support/api-event.js';
import { inventoryOf, policyResources, suffix } from './fixtures.js';
import { ACCESS_REVIEW_SHORT_SLACK } from '../../support/fixtures.js';

const ctx = {
  functionName: 'policy-api',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;
type Res = { statusCode: number; body: string };

const YAML = ACCESS_REVIEW_SHORT_SLACK;

describe('policy-api handler', () => {
  let handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>;
  const tenant = `acme-${suffix()}`;
  const admin: AuthContext = { tenantId: tenant, subject: 'alice', roles: ['admin'], principalType: 'human' };
  const auditor: AuthContext = { ...admin, roles: ['auditor'] };
  const agent: AuthContext = {
    tenantId: tenant,
    subject: 'spiffe://x/agt_1',
    roles: ['agent'],
    principalType: 'agent',
    agentId: 'agt_1',
  };
  const other: AuthContext = { ...admin, tenantId: `${tenant}-other` };
  let controlTable: string;

  const call = async (
    routeKey: string,
    who: AuthContext,
    o: { body?: unknown; params?: Record<string, string> } = {},
  ) => {
    const [method, route] = routeKey.split(' ') as [string, string];
    const e = apiEvent({
      method,
      route,
      auth: who,
      ...(o.params ? { params: o.params } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    const r = (await handler(e, ctx)) as Res;
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };

  beforeAll(async () => {
    const r = await policyResources('api');
    controlTable = r.controlTable;
    await inventoryOf(r).register(tenant, 'agt_1');
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

  it('pushes, promotes and evaluates a YAML policy end to end', async () => {
    const pushed = await call('POST /v1/policies/bundles', admin, { body: { format: 'yaml', document: YAML } });
    expect(pushed.status).toBe(201);
    expect(pushed.body).toMatchObject({
      bundle_id: expect.stringMatching(/^pb_/),
      version: 1,
      digest: expect.stringMatching(/^sha256:/),
    });
    const promoted = await call('POST /v1/policies/bundles/{id}/promote', admin, {
      params: { id: pushed.body.bundle_id },
    });
    expect(promoted).toEqual({ status: 200, body: { live_bundle_id: pushed.body.bundle_id, version: 1 } });
    const d = await call('POST /v1/policies/evaluate', agent, {
      body: { principal: { type: 'Agent', id: 'agt_1' }, action: 'okta:users:deactivate' },
    });
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      bundle_version: '1',
      errors: [],
      determining_policies: ['okta-access-review/users:deactivate'],
    });
    expect(typeof d.body.evaluation_ms).toBe('number');
    const q = await documentClient().send(
      new QueryCommand({
        TableName: controlTable,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': `T#${tenant}#POLICY#ENF#AGENT#agt_1` },
      }),
    );
    expect(q.Items?.some((i) => i.action_name === 'okta:users:deactivate' && i.pep_topology === 'remote')).toBe(true);
  });

  it('answers 400 with Cedar messages for an invalid Cedar bundle', async () => {
    const r = await call('POST /v1/policies/bundles', admin, {
      body: { format: 'cedar', schema: 'entity Agent;', policies: 'permit(principal is Robot, action, resource);' },
    });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toMatch(/Robot/);
  });

  it('refuses unknown body fields', async () => {
    const r = await call('POST /v1/policies/bundles', admin, { body: { format: 'yaml', document: YAML, extra: 1 } });
    expect(r.status).toBe(400);
  });

  it('lets an agent ask only about itself', async () => {
    const r = await call('POST /v1/policies/evaluate', agent, {
      body: { principal: { type: 'Agent', id: 'agt_2' }, action: 'okta:users:read' },
    });
    expect(r.status).toBe(403);
  });

  it('forbids every decision for a tenant without a live bundle', async () => {
    const r = await call('POST /v1/policies/evaluate', other, {
      body: { principal: { type: 'Agent', id: 'agt_1' }, action: 'okta:users:read' },
    });
    expect(r.body).toMatchObject({ effect: 'forbid', bundle_version: null });
  });

  it("diffs for an auditor and hides another tenant's bundles (404)", async () => {
    const a = await call('POST /v1/policies/bundles', admin, { body: { format: 'yaml', document: YAML } });
    const b = await call('POST /v1/policies/bundles', admin, {
      body: {
        format: 'yaml',
        document: YAML.replace('"users:deactivate": high', '"users:deactivate": high, "users:create": medium'),
      },
    });
    const d = await call('GET /v1/policies/bundles/{id}/diff/{prev_id}', auditor, {
      params: { id: b.body.bundle_id, prev_id: a.body.bundle_id },
    });
    expect(d.status).toBe(200);
    expect(d.body.added.map((p: { id: string }) => p.id)).toEqual(['okta-access-review/users:create']);
    const x = await call('GET /v1/policies/bundles/{id}/diff/{prev_id}', other, {
      params: { id: b.body.bundle_id, prev_id: a.body.bundle_id },
    });
    expect(x.status).toBe(404);
    const p = await call('POST /v1/policies/bundles/{id}/promote', other, { params: { id: b.body.bundle_id } });
    expect(p.status).toBe(404);
  });

  it('accepts a batch of EnforcementEvents from an external PEP, only about the calling agent', async () => {
    const ev = {
      agent_id: 'agt_1',
      action_name: 'okta:users:read',
      context_hash: 'sha256:00',
      decision: 'permit',
      decision_ms: 0.4,
      pep_topology: 'mcp-gateway',
      pep_version: 'gw/1',
      occurred_at: '2026-03-01T10:00:00.000Z',
    };
    const ok = await call('POST /v1/enforcement/log', agent, {
      body: { events: [ev, { ...ev, event_id: 'enf_fixed' }] },
    });
    expect(ok.status).toBe(202);
    expect(ok.body.accepted).toBe(2);
    expect(ok.body.event_ids).toContain('enf_fixed');
    const bad = await call('POST /v1/enforcement/log', agent, { body: { events: [{ ...ev, agent_id: 'agt_2' }] } });
    expect(bad.status).toBe(403);
  });

  it('commits each logged enforcement event with its policy.decision in the outbox: a down bus loses none', async () => {
    const outboxItems = async () =>
      (
        await documentClient().send(
          new QueryCommand({
            TableName: controlTable,
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': `T#${tenant}#OUTBOX` },
            ConsistentRead: true,
          }),
        )
      ).Items ?? [];
    const ev = {
      agent_id: 'agt_1',
      action_name: 'okta:users:read',
      context_hash: 'sha256:00',
      decision: 'permit',
      decision_ms: 1,
      pep_topology: 'mcp-gateway',
      pep_version: 'gw/1',
      occurred_at: '2026-03-01T10:00:00.000Z',
    };
    const upBus = process.env.ARX_EVENT_BUS!;
    expect(await outboxItems()).toEqual([]); // the bus was up for the earlier calls: all published
    // The same function wired in an environment whose bus is down.
    const down = { ...process.env, ARX_EVENT_BUS: `arx-no-such-bus-${suffix()}` };
    const r = await withEnvironment(down, () =>
      call('POST /v1/enforcement/log', agent, {
        body: {
          events: [
            { ...ev, event_id: 'enf_downone' },
            { ...ev, event_id: 'enf_downtwo' },
          ],
        },
      }),
    );
    expect(r.status).toBe(202);
    expect((await outboxItems()).map((i) => i.sk).sort()).toEqual(['enf_downone', 'enf_downtwo']);
    const relay = new Outbox(controlTable, new EventBridgePublisher(upBus));
    expect(await relay.relay(new Date(Date.now() + 120_000))).toBe(2);
    expect(await outboxItems()).toEqual([]);
  });
});
