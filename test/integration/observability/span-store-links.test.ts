import { randomBytes } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import { recordActionEvent } from '../../../lambdas/observability/core/arx-spans.js';
import type { ActionLink } from '../../../lambdas/observability/core/model.js';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { createSingleTable } from '../../support/tables.js';

const table = `obs-links-${randomBytes(4).toString('hex')}`;
const hex = (n: number) => randomBytes(n).toString('hex');
const base = (trace: string, action: string) => ({
  tenant_id: 't1',
  trace_id: trace,
  action_id: action,
  agent_id: 'agt_a',
  approval_id: null,
});
const ev = (type: string, at: string) => ({ type, at, detail: { action_id: 'x', n: at } });

describe('DynamoSpanStore action links: one update per event (against moto)', () => {
  let store: DynamoSpanStore;
  beforeAll(async () => {
    await createSingleTable(table);
    store = new DynamoSpanStore(table);
  });

  it('answers the link as it was before each event, and adds an event only once', async () => {
    const trace = hex(16);
    expect(
      await store.appendLinkEvent(base(trace, 'act_1'), ev('decision.required', '2026-12-01T10:00:00.000Z')),
    ).toBeNull();
    const before = await store.appendLinkEvent(
      { ...base(trace, 'act_1'), approval_id: 'apr_1' },
      ev('decision.approved', '2026-12-01T10:01:00.000Z'),
    );
    expect(before?.events.map((e) => e.type)).toEqual(['decision.required']);
    expect(before?.approval_id).toBeNull();
    // A later event without an approval id keeps the one recorded; a redelivery adds nothing.
    await store.appendLinkEvent(base(trace, 'act_1'), ev('operation.executed', '2026-12-01T10:02:00.000Z'));
    const again = await store.appendLinkEvent(
      base(trace, 'act_1'),
      ev('operation.executed', '2026-12-01T10:02:00.000Z'),
    );
    expect(again?.events.map((e) => e.type)).toEqual(['decision.required', 'decision.approved', 'operation.executed']);
    const { links } = await store.traceSpans('t1', trace);
    expect(links).toEqual([
      {
        ...base(trace, 'act_1'),
        approval_id: 'apr_1',
        events: [
          ev('decision.required', '2026-12-01T10:00:00.000Z'),
          ev('decision.approved', '2026-12-01T10:01:00.000Z'),
          ev('operation.executed', '2026-12-01T10:02:00.000Z'),
        ],
      },
    ]);
  });

  it('keeps every event when writers race on one link', async () => {
    const trace = hex(16);
    const ats = Array.from({ length: 12 }, (_, i) => `2026-12-01T10:00:${String(i).padStart(2, '0')}.000Z`);
    await Promise.all(ats.map((at) => store.appendLinkEvent(base(trace, 'act_2'), ev('decision.required', at))));
    const { links } = await store.traceSpans('t1', trace);
    expect(links[0]?.events.map((e) => e.at)).toEqual(ats);
  });

  it('reads a link written as one JSON document before, and adds to it', async () => {
    const trace = hex(16);
    const legacy: ActionLink = {
      ...base(trace, 'act_3'),
      approval_id: 'apr_3',
      events: [ev('decision.required', '2026-12-01T09:00:00.000Z')],
    };
    await documentClient().send(
      new PutCommand({
        TableName: table,
        Item: { pk: `T#t1#TRACE#${trace}`, sk: 'ARX#act_3', doc: JSON.stringify(legacy), version: 1 },
      }),
    );
    const prev = await store.appendLinkEvent(base(trace, 'act_3'), ev('decision.approved', '2026-12-01T09:05:00.000Z'));
    expect(prev).toEqual(legacy);
    const { links } = await store.traceSpans('t1', trace);
    expect(links[0]?.approval_id).toBe('apr_3');
    expect(links[0]?.events.map((e) => e.type)).toEqual(['decision.required', 'decision.approved']);
  });

  it('links nothing for an event it cannot draw (a malformed trace id)', async () => {
    const r = await recordActionEvent(
      store,
      'operation.executed',
      { tenant_id: 't1', trace_id: 'not-hex', action_id: 'act_4', agent_id: 'agt_a', action: 'okta:users:read' },
      new Date().toISOString(),
    );
    expect(r.spans).toEqual([]);
    expect((await store.traceSpans('t1', 'not-hex')).links).toEqual([]);
  });
});
