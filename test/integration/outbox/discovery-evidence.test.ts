import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox, outboxPk } from '../../../lambdas/shared/outbox.js';
import { evidenceEntries, reportEvidence } from '../../../lambdas/shared/discovery-evidence.js';
import { createControlTable } from '../actions/support.js';
import { downBus, later, observeBus } from './support.js';

const item = (id: string) => ({ platform: 'otel', platform_native_id: id, observed_at: new Date().toISOString() });

describe('discovery evidence through the outbox (against moto)', () => {
  let table: string;
  let bus: string;

  beforeAll(async () => {
    table = await createControlTable('outbox-evidence');
    bus = `outbox-evidence-${randomBytes(4).toString('hex')}`;
    await new EventBridgeClient({}).send(new CreateEventBusCommand({ Name: bus }));
  });

  it('publishes at once when the bus is up (one event per 50 items, nothing left in the outbox)', async () => {
    const tenant = `t-${randomBytes(3).toString('hex')}`;
    const consumer = await observeBus(bus);
    const entries = evidenceEntries(
      tenant,
      'otlp_inference',
      'otlp',
      Array.from({ length: 51 }, (_, i) => item(`bot-${i}`)),
    );
    expect(entries).toHaveLength(2);
    expect(
      await reportEvidence(new Outbox(table, new EventBridgePublisher(bus)), entries, new Date().toISOString(), 60_000),
    ).toBe('committed');
    const got = (await consumer.receive(3000)).filter((e) => e.detail.tenant_id === tenant);
    expect(got.map((e) => e['detail-type'])).toEqual(['discovery.evidence', 'discovery.evidence']);
    expect(got.flatMap((e) => (e.detail.items as unknown[]).length)).toEqual([50, 1]);
    const left = await documentClient().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': outboxPk(tenant) },
      }),
    );
    expect(left.Items ?? []).toEqual([]);
  });

  it('with the bus down the report still commits and the relay delivers it once; with the store down it fails without throwing', async () => {
    const tenant = `t-${randomBytes(3).toString('hex')}`;
    const consumer = await observeBus(bus);
    const entries = evidenceEntries(tenant, 'mcp_handshake', 'mcp:hosted:x-mcp', [item('agt_1/cli')]);
    expect(await reportEvidence(new Outbox(table, downBus()), entries, new Date().toISOString(), 60_000)).toBe(
      'committed',
    );
    expect((await consumer.receive(1500)).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
    await new Outbox(table, new EventBridgePublisher(bus)).relay(later());
    const got = (await consumer.receive(3000)).filter((e) => e.detail.tenant_id === tenant);
    expect(got.map((e) => [e['detail-type'], e.detail.event_id])).toEqual([
      ['discovery.evidence', entries[0]!.detail.event_id],
    ]);

    const noTable = new Outbox(`no-such-table-${randomBytes(3).toString('hex')}`, new EventBridgePublisher(bus));
    await expect(reportEvidence(noTable, entries, new Date().toISOString(), 60_000)).resolves.toBe('failed');
    expect(await reportEvidence(noTable, [], new Date().toISOString())).toBe('none');
  });
});
