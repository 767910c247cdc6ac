import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { AuditRecorder } from '../../../lambdas/audit/core/record.js';
import { auditInputFromBus } from '../../../lambdas/audit/core/bus.js';
import { createAuditTable, createKeys, suffix } from './env.js';

const table = `audit-bus-${suffix()}`;
let recorder: AuditRecorder;
beforeAll(async () => {
  await createAuditTable(table);
  const { dataKeyArn } = await createKeys();
  recorder = new AuditRecorder({
    store: new DynamoEventStore(table),
    cipher: new KmsEnvelopeCipher(dataKeyArn),
    clock: new ManualClock(),
  });
});

describe('auditInputFromBus', () => {
  it('maps identity changes, token issuance and reuse, and bundle promotions to governed audit events with their evidence tags', () => {
    const reg = auditInputFromBus(
      'inventory.change',
      {
        tenant_id: 't',
        event_id: 'e1',
        agent_id: 'agt_1',
        change: 'registered',
        status: 'active',
        at: '2026-01-01T00:00:00Z',
        correlation_id: 'c',
        trace_id: 'f'.repeat(32),
      },
      new Date(),
    );
    expect(reg?.input).toMatchObject({
      event_type: 'identity.agent.registered',
      agent_id: 'agt_1',
      action: 'identity:agents:registered',
      occurred_at: '2026-01-01T00:00:00Z',
    });
    const revoked = auditInputFromBus(
      'inventory.change',
      { tenant_id: 't', event_id: 'e2', agent_id: 'agt_1', change: 'status', status: 'revoked' },
      new Date(),
    );
    expect(revoked?.input.event_type).toBe('identity.agent.revoked');
    const promo = auditInputFromBus(
      'bundle.promoted',
      { tenant_id: 't', event_id: 'e3', bundle_id: 'bun_1', version: 3 },
      new Date('2026-01-02T00:00:00Z'),
    );
    expect(promo?.input).toMatchObject({
      event_type: 'bundle.promoted',
      target: 'bundle:bun_1',
      action: 'policy:bundles:promote',
    });
    const issued = auditInputFromBus(
      'token.issued',
      {
        tenant_id: 't',
        event_id: 'e6',
        agent_id: 'agt_1',
        grant: 'refresh_token',
        audience: 'arx',
        at: '2026-01-03T00:00:00Z',
      },
      new Date(),
    );
    expect(issued?.input).toMatchObject({
      event_type: 'identity.token.issued',
      agent_id: 'agt_1',
      action: 'identity:tokens:refresh_token',
      target: 'audience:arx',
      decision: 'issued',
      occurred_at: '2026-01-03T00:00:00Z',
    });
    const reuse = auditInputFromBus(
      'token.refresh_reuse',
      { tenant_id: 't', event_id: 'e7', agent_id: 'agt_1', refresh_family: 'fam1' },
      new Date(),
    );
    expect(reuse?.input).toMatchObject({
      event_type: 'identity.token.family_revoked',
      target: 'refresh_family:fam1',
      decision: 'revoked',
    });
    const drift = auditInputFromBus(
      'agent.drift',
      { tenant_id: 't', event_id: 'e8', agent_id: 'agt_1', state: 'alert', score: 0.7, at: '2026-01-04T00:00:00Z' },
      new Date(),
    );
    expect(drift?.input).toMatchObject({
      event_type: 'agent.drift.alert',
      agent_id: 'agt_1',
      target: 'agent:agt_1',
      decision: 'alert',
      occurred_at: '2026-01-04T00:00:00Z',
    });
    expect(
      auditInputFromBus('agent.drift', { tenant_id: 't', event_id: 'e9', state: 'cleared' }, new Date())?.input
        .event_type,
    ).toBe('agent.drift.cleared');
    expect(auditInputFromBus('operation.executed', { tenant_id: 't', event_id: 'e4' }, new Date())).toBeNull();
    expect(auditInputFromBus('bundle.promoted', { event_id: 'e5' }, new Date())).toBeNull();
  });
});

describe('bus consumer recording (moto)', () => {
  it('records a redelivered bus event once', async () => {
    const t = `t-bus-${suffix()}`;
    const m = auditInputFromBus(
      'bundle.promoted',
      { tenant_id: t, event_id: 'bundle.promoted:x:1', bundle_id: 'bun_1', promoted_by: 'admin@corp' },
      new Date(),
    )!;
    const first = await recorder.recordEvent(m.input, m.dedupeKey);
    const again = await recorder.recordEvent(m.input, m.dedupeKey);
    expect([first.duplicate, again.duplicate]).toEqual([false, true]);
    const page = await new DynamoEventStore(table).listEvents(t, { limit: 10 });
    expect(page.items.map((e) => e.event_id)).toEqual([first.event.event_id]);
    expect(page.items[0]!.evidence_tags).toEqual(expect.arrayContaining(['soc2_2017:CC8.1', 'eu_ai_act:Art.17']));
  });
});
