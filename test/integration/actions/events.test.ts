import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { createControlTable } from './support.js';
import { agent, harness, manager, trace } from '../../unit/actions/fakes.js';

describe('Action events on the EventBridge bus (against moto)', () => {
  let table: string;
  let bus: string;
  let queueUrl: string;
  const sqs = new SQSClient({});

  beforeAll(async () => {
    table = await createControlTable('actions-events');
    bus = `actions-bus-${randomBytes(4).toString('hex')}`;
    const eb = new EventBridgeClient({});
    await eb.send(new CreateEventBusCommand({ Name: bus }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${bus}-q` }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await eb.send(
      new PutRuleCommand({ Name: `${bus}-all`, EventBusName: bus, EventPattern: JSON.stringify({ source: ['arx'] }) }),
    );
    await eb.send(new PutTargetsCommand({ Rule: `${bus}-all`, EventBusName: bus, Targets: [{ Id: 'q', Arn: arn }] }));
  });

  async function drain(expected: number): Promise<{ 'detail-type': string; detail: Record<string, unknown> }[]> {
    const out: { 'detail-type': string; detail: Record<string, unknown> }[] = [];
    const deadline = Date.now() + 10_000;
    while (out.length < expected && Date.now() < deadline) {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of r.Messages ?? []) out.push(JSON.parse(m.Body!));
    }
    return out;
  }

  it('publishes decision.required|approved|denied|expired and operation.executed|failed with correlation and trace ids', async () => {
    const h = harness({
      store: new DynamoActionStore(table),
      events: new Outbox(table, new EventBridgePublisher(bus)),
    });
    const approve = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'a' }, correlation_id: 'corr-a' },
      trace,
    );
    if (approve.kind !== 'pending') throw new Error('expected pending');
    await h.svc.decide('t1', approve.approval.approval_id, manager, 'approve', 'ok');
    const deny = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'b' }, correlation_id: 'corr-b' },
      trace,
    );
    if (deny.kind !== 'pending') throw new Error('expected pending');
    await h.svc.decide('t1', deny.approval.approval_id, manager, 'deny', 'no');
    await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'c' }, correlation_id: 'corr-c' },
      trace,
    );
    h.clock.advance(3600_001);
    await h.svc.sweepExpired(1000);
    h.okta.state.failNext = true;
    await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:read', params: {}, correlation_id: 'corr-d' },
      trace,
    );

    const events = await drain(8);
    const seen = events.map((e) => `${String(e.detail.correlation_id)} ${e['detail-type']}`).sort();
    expect(seen).toEqual([
      'corr-a decision.approved',
      'corr-a decision.required',
      'corr-a operation.executed',
      'corr-b decision.denied',
      'corr-b decision.required',
      'corr-c decision.expired',
      'corr-c decision.required',
      'corr-d operation.failed',
    ]);
    for (const e of events) {
      expect(e.detail).toMatchObject({ tenant_id: 't1', trace_id: trace.traceId, agent_id: 'agt_1' });
      expect(e.detail.event_id).toBe(`${e['detail-type']}:${String(e.detail.action_id)}`);
    }
    const executed = events.find((e) => e['detail-type'] === 'operation.executed')!;
    expect(executed.detail.approval_metadata).toMatchObject({
      approver: 'manager@example.com',
      reason: 'ok',
      policy: 'okta-access-review',
    });
  });
});
