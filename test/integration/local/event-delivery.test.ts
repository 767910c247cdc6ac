/**
 * The local runtime's event delivery (issue 19 §3), against moto's SQS: one queue carries several
 * rules, each message goes to the functions whose rules match it, a slow function holds up no other,
 * and a failed function is retried alone once the message becomes visible again; the message is
 * deleted only when every target has taken it.
 */
import { randomBytes } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { pollQueue, type DeliveryChannel } from '../../../local/runtime.js';

/** Retries `check` until it stops throwing, or throws its last error at the deadline. */
async function until(check: () => unknown, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const channel: DeliveryChannel = {
  id: 'bus-test',
  members: [
    {
      id: 'RuleSpans',
      pattern: { source: ['arx'], 'detail-type': ['policy.decision', 'operation.executed'] },
      fns: ['spans'],
    },
    { id: 'RuleDrift', pattern: { source: ['arx'], 'detail-type': ['operation.executed'] }, fns: ['drift'] },
    { id: 'RuleAudit', pattern: { source: ['arx'], 'detail-type': ['bundle.promoted'] }, fns: ['audit'] },
  ],
  fns: ['spans', 'drift', 'audit'],
};

describe('local event delivery: one queue, rules matched in process', () => {
  it('hands each event to its rules’ functions once, retries only the one that failed, then deletes it', async () => {
    const sqs = new SQSClient({});
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: `delivery-${randomBytes(4).toString('hex')}`,
        Attributes: { VisibilityTimeout: '1' },
      }),
    );
    const url = q.QueueUrl!;
    const calls: string[] = [];
    let driftFailures = 1;
    let releaseSlow: () => void = () => undefined;
    const slow = new Promise<void>((r) => (releaseSlow = r));
    const invoke = async (fn: string, e: unknown) => {
      const ev = e as { id: string };
      if (fn === 'spans' && ev.id === 'e1') await slow; // a slow consumer
      if (fn === 'drift' && ev.id === 'e2' && driftFailures-- > 0) throw new Error('drift store busy');
      calls.push(`${fn}:${ev.id}`);
    };
    const send = (id: string, type: string) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: JSON.stringify({ id, source: 'arx', 'detail-type': type, detail: {} }),
        }),
      );
    await send('e1', 'operation.executed');
    await send('e2', 'operation.executed');
    await send('e3', 'policy.decision');
    await send('e4', 'inventory.change'); // matches no rule here: deleted, nobody called
    let running = true;
    const abort = new AbortController();
    const loop = pollQueue(sqs, url, channel, invoke, () => running, abort.signal);
    try {
      // drift is not held up by the slow spans consumer; its failure on e2 is retried alone
      await until(() => expect(calls).toEqual(expect.arrayContaining(['drift:e1', 'drift:e2'])), 15_000);
      expect(calls).not.toContain('spans:e1');
      releaseSlow();
      await until(() => expect(calls.filter((c) => c.startsWith('spans:'))).toHaveLength(3), 10_000);
      await until(async () => {
        const a = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        expect(
          Number(a.Attributes!.ApproximateNumberOfMessages) +
            Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible),
        ).toBe(0);
      }, 10_000);
      expect([...calls].sort()).toEqual(['drift:e1', 'drift:e2', 'spans:e1', 'spans:e2', 'spans:e3']);
    } finally {
      running = false;
      abort.abort();
      await loop;
    }
  });
});
