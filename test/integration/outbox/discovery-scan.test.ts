import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { withEnvironment } from '../../../lambdas/shared/settings.js';
import { apiEvent } from '../../support/api-event.js';
import { provisionTestStack } from '../../support/stack.js';
import { later, observeBus } from './support.js';

const ctx = { functionName: 'discovery-api', awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 } as Context;
type Handler = (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>;

describe('POST /v1/discovery/scan through the outbox (against moto)', () => {
  let env: Record<string, string>;
  let handler: Handler;
  const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
  const admin: AuthContext = { tenantId: tenant, subject: 'alice', roles: ['admin'], principalType: 'human' };

  const call = async (e: Record<string, string>, route: string, body: unknown) => {
    const [method, path] = route.split(' ') as [string, string];
    const r = (await withEnvironment(e, () => handler(apiEvent({ method, route: path, auth: admin, body }), ctx))) as {
      statusCode: number;
      body: string;
    };
    return { status: r.statusCode, body: JSON.parse(r.body) as Record<string, unknown> };
  };
  const outboxItems = async () =>
    (
      await documentClient().send(
        new QueryCommand({
          TableName: env.ARX_CONTROL_TABLE!,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': `T#${tenant}#OUTBOX` },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
    env = { ...process.env, ...env } as Record<string, string>;
    ({ handler } = (await import('../../../lambdas/discovery/handlers/api.js')) as unknown as { handler: Handler });
    const src = await call(env, 'POST /v1/discovery/sources', {
      type: 'aws_account',
      config: { regions: ['us-east-1'] },
    });
    expect(src.status).toBe(201);
  });

  it('queues a scan while the bus is down; its request arrives once after the bus returns', async () => {
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const down = { ...env, ARX_EVENT_BUS: `arx-no-such-bus-${Math.random().toString(36).slice(2, 8)}` };

    const r = await call(down, 'POST /v1/discovery/scan', {});

    // Accepted, and the scan waits queued rather than failing: the request is durable in the outbox.
    expect(r.status).toBe(202);
    const scanId = String(r.body.scan_id);
    const got = (await withEnvironment(env, () =>
      handler(apiEvent({ method: 'GET', route: '/v1/discovery/scan/{id}', params: { id: scanId }, auth: admin }), ctx),
    )) as { statusCode: number; body: string };
    expect(got.statusCode).toBe(200);
    expect(JSON.parse(got.body).status).toBe('queued');
    expect((await outboxItems()).map((i) => [i.detail_type, (i.detail as { scan_id: string }).scan_id])).toEqual([
      ['discovery.scan.requested', scanId],
    ]);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    const relay = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    expect(await relay.relay(later())).toBeGreaterThanOrEqual(1);
    const arrived = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(arrived.map((e) => [e['detail-type'], e.detail.scan_id])).toEqual([['discovery.scan.requested', scanId]]);
    expect(await outboxItems()).toEqual([]);
    await relay.relay(later());
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  });

  it('publishes at once when the bus is up and leaves nothing in the outbox', async () => {
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const r = await call(env, 'POST /v1/discovery/scan', {});
    expect(r.status).toBe(202);
    const arrived = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(arrived.map((e) => [e['detail-type'], e.detail.scan_id])).toEqual([
      ['discovery.scan.requested', r.body.scan_id],
    ]);
    expect(await outboxItems()).toEqual([]);
  });
});
