import { beforeAll, describe, expect, it } from 'vitest';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import type { ArxEventDetail, DetailType, EventPublisher, OutboxEntry } from '../../../lambdas/shared/events.js';
import { LEGACY_OUTBOX_PK, Outbox, outboxItem, outboxPk } from '../../../lambdas/shared/outbox.js';
import { createControlTable } from '../actions/support.js';
import { later } from './support.js';

const entry = (tenant: string, n: number): OutboxEntry => ({
  detailType: 'operation.executed',
  detail: { tenant_id: tenant, correlation_id: 'c', trace_id: 't', event_id: `${tenant}-ev-${n}` },
});

/** Records what it published; refuses every event of the tenants in `refuse` (that tenant's bus target is failing). */
class Publisher implements EventPublisher {
  readonly published: string[] = [];
  constructor(readonly refuse: ReadonlySet<string> = new Set()) {}
  async publish(_t: DetailType, d: ArxEventDetail): Promise<void> {
    if (this.refuse.has(d.tenant_id)) throw new Error('PutEvents failed');
    this.published.push(d.event_id);
  }
}

describe('Outbox relay (against moto)', () => {
  const ddb = documentClient();
  let table: string;
  const put = (items: Record<string, unknown>[]) =>
    ddb.send(new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  const left = async (pk: string) =>
    (
      await ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': pk },
        }),
      )
    ).Items ?? [];

  beforeAll(async () => {
    table = await createControlTable('outbox-relay');
  });

  it("keeps each tenant's outbox in its own partition, counts only what it published, and a failing tenant holds back only its own events", async () => {
    const base = Date.parse('2026-12-01T10:00:00.000Z');
    await put(
      [0, 1, 2].flatMap((n) => [
        outboxItem(entry('acme', n), new Date(base + n).toISOString()),
        outboxItem(entry('globex', n), new Date(base + n).toISOString()),
      ]),
    );
    expect(await left(outboxPk('acme'))).toHaveLength(3);

    const failingAcme = new Publisher(new Set(['acme']));
    expect(await new Outbox(table, failingAcme, ddb).relay(later())).toBe(3);

    expect(failingAcme.published).toEqual(['globex-ev-0', 'globex-ev-1', 'globex-ev-2']);
    expect(await left(outboxPk('globex'))).toHaveLength(0);
    expect(await left(outboxPk('acme'))).toHaveLength(3);

    const healthy = new Publisher();
    expect(await new Outbox(table, healthy, ddb).relay(later())).toBe(3);
    expect(healthy.published).toEqual(['acme-ev-0', 'acme-ev-1', 'acme-ev-2']);
    expect(await new Outbox(table, healthy, ddb).relay(later())).toBe(0);
    expect(healthy.published).toHaveLength(3);
  });

  it('leaves events younger than the minimum age to their writer', async () => {
    const now = new Date();
    await put([outboxItem(entry('young', 0), now.toISOString())]);
    const p = new Publisher();

    expect(await new Outbox(table, p, ddb).relay(now, 30_000)).toBe(0);

    expect(p.published).toEqual([]);
    expect(await left(outboxPk('young'))).toHaveLength(1);
  });

  it('still drains items written to the shared partition before outboxes were per tenant', async () => {
    const e = entry('legacy', 0);
    await put([
      {
        pk: LEGACY_OUTBOX_PK,
        sk: e.detail.event_id,
        detail_type: e.detailType,
        detail: e.detail,
        created_at: '2026-11-30T00:00:00.000Z',
      },
    ]);
    const p = new Publisher();

    expect(await new Outbox(table, p, ddb).relay(later())).toBeGreaterThanOrEqual(1);

    expect(p.published).toContain('legacy-ev-0');
    expect(await left(LEGACY_OUTBOX_PK)).toHaveLength(0);
  });
});
