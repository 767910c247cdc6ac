import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoEnforcementLog } from '../../../lambdas/policy/adapters/dynamo-control.js';
import { EnforcementRecorder } from '../../../lambdas/policy/core/service.js';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import type { Decision } from '../../../lambdas/shared/ports.js';
import { provisionTestStack } from '../../support/stack.js';
import { downBus, later, observeBus } from './support.js';

const decision: Decision = {
  effect: 'permit',
  approval: 'none',
  risk: 'low',
  determining_policies: ['p0'],
  errors: [],
  evaluation_ms: 1,
  bundle_version: '3',
  policy: 'okta-access-review',
};

describe('the decision recorder through the outbox (against moto)', () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ env } = await provisionTestStack());
  });

  it('records a decision while the bus is down; policy.decision arrives once after the bus returns', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const table = env.ARX_CONTROL_TABLE!;
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const down = downBus();
    const recorder = new EnforcementRecorder(
      new DynamoEnforcementLog(table, systemClock),
      down,
      systemClock,
      new Outbox(table, down),
    );

    await recorder.record(
      { tenantId: tenant, principal: { type: 'Agent', id: 'agt_1' }, action: 'okta:users:read' },
      decision,
      { pep_topology: 'in-process', correlation_id: 'c-dec', trace_id: 'a'.repeat(32) },
    );

    // The record is written; nothing reached the bus.
    const day = new Date().toISOString().slice(0, 10);
    const records = await documentClient().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#${tenant}#POLICY#ENF#${day}` },
        ConsistentRead: true,
      }),
    );
    expect(records.Items?.map((r) => [r.action_name, r.decision])).toEqual([['okta:users:read', 'permit']]);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    const up = new Outbox(table, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    expect(await up.relay(later())).toBeGreaterThanOrEqual(1);
    const got = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(got.map((e) => [e['detail-type'], e.detail.event_id, e.detail.action, e.detail.effect])).toEqual([
      ['policy.decision', records.Items![0]!.event_id, 'okta:users:read', 'permit'],
    ]);
    expect(got[0]!.detail.correlation_id).toBe('c-dec');
    expect(await up.relay(later())).toBe(0);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  });

  it('publishes at once and leaves nothing for the relay when the bus is up', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const table = env.ARX_CONTROL_TABLE!;
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const bus = new EventBridgePublisher(env.ARX_EVENT_BUS!);
    const recorder = new EnforcementRecorder(
      new DynamoEnforcementLog(table, systemClock),
      bus,
      systemClock,
      new Outbox(table, bus),
    );
    await recorder.record(
      { tenantId: tenant, principal: { type: 'Agent', id: 'agt_2' }, action: 'okta:users:list' },
      { ...decision, effect: 'forbid' },
      { pep_topology: 'in-process' },
    );
    const got = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(got.map((e) => [e['detail-type'], e.detail.effect])).toEqual([['policy.decision', 'forbid']]);
    const pending = await documentClient().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#${tenant}#OUTBOX` },
        ConsistentRead: true,
      }),
    );
    expect(pending.Items ?? []).toEqual([]);
  });
});
