import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import { DurableAudit, auditDedupeKey } from '../../../lambdas/actions/core/durable-audit.js';
import { DynamoPendingAuditStore } from '../../../lambdas/actions/adapters/dynamo-pending-audit.js';
import type { AuditRecordInput } from '../../../lambdas/shared/ports.js';
import { createSingleTable } from '../../support/tables.js';
import { createKeys, suffix } from '../audit/env.js';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const log = { error: () => undefined, warn: () => undefined };

const input = (eventType: string, n: string): AuditRecordInput => ({
  tenant_id: 'acme',
  event_type: eventType,
  agent_id: 'agt_1',
  action: 'okta:users:read',
  target: 'okta',
  decision: 'executed',
  occurred_at: new Date().toISOString(),
  correlation_id: `corr-${n}`,
  trace_id: 'a'.repeat(32),
  payload: { n },
});

async function auditEvents(table: string): Promise<Record<string, unknown>[]> {
  const r = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': 'T#acme#EV' },
      ConsistentRead: true,
    }),
  );
  return r.Items ?? [];
}

/**
 * After-the-fact audit writes (operation.executed, operation.failed, decision.denied,
 * decision.expired) against moto: the audit table is unavailable (it does not exist yet), then
 * comes back. The events are parked in the control table, then recorded by the drain — each
 * exactly once.
 */
describe('durable after-the-fact audit writes: a failing audit table delays them, never drops them', () => {
  let control: string;
  let auditTable: string;
  let dataKeyArn: string;
  beforeAll(async () => {
    control = `ctl-${suffix()}`;
    auditTable = `aud-${suffix()}`;
    await createSingleTable(control);
    ({ dataKeyArn } = await createKeys());
  });

  it('parks every event while the audit table fails, then records each exactly once when it recovers', async () => {
    const sink = createAuditSink({ table: auditTable, dataKeyArn });
    const pending = new DynamoPendingAuditStore(control);
    let attempts = 0;
    const durable = new DurableAudit({
      recordOnce: async (i, k) => {
        attempts++;
        await sink.recorder().recordEvent(i, k);
      },
      pending,
      now: () => new Date(),
      log,
      sleep: async () => undefined,
    });
    const events = ['operation.executed', 'operation.failed', 'decision.denied', 'decision.expired'].map((t, i) =>
      input(t, String(i)),
    );

    // 1. The audit table is unavailable: every write is retried inline, then parked — not dropped.
    for (const e of events) expect(await durable.record(e)).toBe('parked');
    expect(attempts).toBe(events.length * 3);
    expect((await pending.list(100)).map((p) => p.key).sort()).toEqual(events.map(auditDedupeKey).sort());
    // A drain while it is still down keeps them parked and counts the attempt.
    expect(await durable.drain()).toEqual({ recorded: 0, left: 4 });
    expect((await pending.list(100)).every((p) => p.attempts === 1)).toBe(true);

    // 2. It recovers: the drain records each once and empties the parking.
    await createSingleTable(auditTable);
    expect(await durable.drain()).toEqual({ recorded: 4, left: 0 });
    expect(await pending.list(100)).toEqual([]);
    const stored = await auditEvents(auditTable);
    expect(stored.map((s) => s.event_type).sort()).toEqual(events.map((e) => e.event_type).sort());

    // 3. A retry of a write that did land (its answer lost) is not recorded twice.
    await pending.put(auditDedupeKey(events[0]!), events[0]!, new Date().toISOString());
    expect(await durable.drain()).toEqual({ recorded: 1, left: 0 });
    expect(await durable.record(events[1]!)).toBe('recorded');
    expect((await auditEvents(auditTable)).length).toBe(4);
  });

  it('with the audit table healthy, the write is recorded inline and nothing is parked', async () => {
    const table = `aud-${suffix()}`;
    await createSingleTable(table);
    const sink = createAuditSink({ table, dataKeyArn });
    const pending = new DynamoPendingAuditStore(control);
    const before = (await pending.list(100)).length;
    const durable = new DurableAudit({
      recordOnce: (i, k) =>
        sink
          .recorder()
          .recordEvent(i, k)
          .then(() => undefined),
      pending,
      now: () => new Date(),
      log,
    });
    expect(await durable.record(input('operation.executed', 'ok'))).toBe('recorded');
    expect((await pending.list(100)).length).toBe(before);
    expect((await auditEvents(table)).length).toBe(1);
  });
});

describe('DynamoPendingAuditStore.list (moto)', () => {
  it('reads past one 100-item page and stops at its limit, in key order', async () => {
    const table = `ctl-${suffix()}`;
    await createSingleTable(table);
    const pending = new DynamoPendingAuditStore(table);
    const keys = Array.from({ length: 230 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    const inputs = new Map(keys.map((k) => [k, input('operation.executed', k)]));
    for (let i = 0; i < keys.length; i += 25)
      await Promise.all(keys.slice(i, i + 25).map((k) => pending.put(k, inputs.get(k)!, new Date().toISOString())));
    await pending.bump('k150', new Date().toISOString());
    const some = await pending.list(150);
    expect(some.map((p) => p.key)).toEqual(keys.slice(0, 150));
    expect(some[7]).toEqual({ key: 'k007', input: inputs.get('k007'), attempts: 0 });
    const all = await pending.list(500);
    expect(all.map((p) => p.key)).toEqual(keys);
    expect(all[150]!.attempts).toBe(1);
    expect(await pending.list(0)).toEqual([]);
  });
});
