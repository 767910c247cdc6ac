import { randomBytes } from 'node:crypto';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';

export interface BusEvent {
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown> & { event_id: string; tenant_id: string };
}

/** A consumer's view of the bus: a rule for ARX events → an SQS queue (as the stack wires its consumers). */
export async function observeBus(bus: string): Promise<{ receive(waitMs?: number): Promise<BusEvent[]> }> {
  const sqs = new SQSClient({});
  const name = `${bus}-obs-${randomBytes(3).toString('hex')}`;
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
  const eb = new EventBridgeClient({});
  await eb.send(
    new PutRuleCommand({ Name: name, EventBusName: bus, EventPattern: JSON.stringify({ source: ['arx'] }) }),
  );
  await eb.send(new PutTargetsCommand({ Rule: name, EventBusName: bus, Targets: [{ Id: 'q', Arn: arn }] }));
  return {
    /** Every message that arrives within `waitMs` (removed from the queue once read). */
    async receive(waitMs = 1500): Promise<BusEvent[]> {
      const out: BusEvent[] = [];
      const until = Date.now() + waitMs;
      while (Date.now() < until) {
        const r = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const m of r.Messages ?? []) {
          out.push(JSON.parse(m.Body!) as BusEvent);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        }
      }
      return out;
    },
  };
}

/** A publisher whose bus does not exist: every PutEvents fails, as when the bus is unavailable. */
export const downBus = (): EventBridgePublisher =>
  new EventBridgePublisher(`arx-no-such-bus-${randomBytes(4).toString('hex')}`);

/** A relay run long after the writes (the relay leaves items younger than 30 s to their writer). */
export const later = (): Date => new Date(Date.now() + 120_000);
