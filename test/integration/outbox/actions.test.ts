import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox, outboxPk } from '../../../lambdas/shared/outbox.js';
import { createControlTable } from '../actions/support.js';
import { agent, harness, manager, trace } from '../../unit/actions/fakes.js';
import { downBus, later, observeBus } from './support.js';

describe('action events through the outbox (against moto)', () => {
  let table: string;
  let bus: string;

  beforeAll(async () => {
    table = await createControlTable('outbox-actions');
    bus = `outbox-actions-${randomBytes(4).toString('hex')}`;
    await new EventBridgeClient({}).send(new CreateEventBusCommand({ Name: bus }));
  });

  it('submit, decide and execute succeed while the bus is down; every event arrives once after the relay, and a second relay sends nothing', async () => {
    const consumer = await observeBus(bus);
    const h = harness({ store: new DynamoActionStore(table), events: new Outbox(table, downBus()) });

    const auto = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:read', params: {}, correlation_id: 'corr-auto' },
      trace,
    );
    const forbidden = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:delete', params: { user_id: 'x' }, correlation_id: 'corr-forbid' },
      trace,
    );
    const held = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'a' }, correlation_id: 'corr-approve' },
      trace,
    );
    const refused = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'b' }, correlation_id: 'corr-deny' },
      trace,
    );
    if (held.kind !== 'pending' || refused.kind !== 'pending') throw new Error('expected pending approvals');
    const approved = await h.svc.decide('t1', held.approval.approval_id, manager, 'approve', 'ok');
    await h.svc.decide('t1', refused.approval.approval_id, manager, 'deny', 'no');

    expect([auto.kind, forbidden.kind, approved.action.status]).toEqual(['executed', 'denied', 'executed']);
    expect(h.okta.calls).toHaveLength(2);
    expect(await consumer.receive()).toEqual([]);
    const waiting = await documentClient().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': outboxPk('t1') },
      }),
    );
    expect(waiting.Items).toHaveLength(7);

    const relay = new Outbox(table, new EventBridgePublisher(bus));
    expect(await relay.relay(later())).toBe(7);
    const arrived = await consumer.receive(3000);
    expect(arrived.map((e) => `${String(e.detail.correlation_id)} ${e['detail-type']}`).sort()).toEqual([
      'corr-approve decision.approved',
      'corr-approve decision.required',
      'corr-approve operation.executed',
      'corr-auto operation.executed',
      'corr-deny decision.denied',
      'corr-deny decision.required',
      'corr-forbid policy.decision',
    ]);
    expect(new Set(arrived.map((e) => e.detail.event_id)).size).toBe(7);
    // one action's events in the order they were committed
    expect(arrived.filter((e) => e.detail.correlation_id === 'corr-approve').map((e) => e['detail-type'])).toEqual([
      'decision.required',
      'decision.approved',
      'operation.executed',
    ]);

    expect(await relay.relay(later())).toBe(0);
    expect(await consumer.receive()).toEqual([]);
  });
});
