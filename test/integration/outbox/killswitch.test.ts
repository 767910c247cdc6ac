import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { newId } from '../../../lambdas/shared/ids.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { DynamoInventoryStore } from '../../../lambdas/discovery/adapters/dynamo-inventory-store.js';
import { DynamoTerminationStore } from '../../../lambdas/killswitch/adapters/dynamo-termination-store.js';
import { initialSteps, type Termination } from '../../../lambdas/killswitch/core/model.js';
import { finalizeTermination, stepAudit } from '../../../lambdas/killswitch/core/saga.js';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import { provisionTestStack } from '../../support/stack.js';
import { downBus, later, observeBus } from './support.js';

describe('kill-switch events through the outbox (against moto)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
  });

  it('the audit step and the final status commit while the bus is down; agent.terminated and .completed arrive once after the relay', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const store = new DynamoTerminationStore(env.ARX_CONTROL_TABLE!);
    const up = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    const down = new Outbox(env.ARX_CONTROL_TABLE!, downBus());
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const t: Termination = {
      termination_id: newId('term'),
      tenant_id: tenant,
      scope: 'agent',
      target_id: 'agt_a',
      agent_ids: ['agt_a', 'agt_b'],
      reason: 'test',
      initiated_by: 'admin',
      initiated_at: new Date().toISOString(),
      status: 'in_flight',
      steps: initialSteps().map((s) => (s.name === 'audit' ? s : { ...s, status: 'ok' as const })),
      correlation_id: 'c-kill',
      trace_id: 't-kill',
    };
    await store.create(t);
    const deps = {
      clock: systemClock,
      store,
      inventory: new DynamoInventoryStore(env.ARX_INVENTORY_TABLE!, env.ARX_CONTROL_TABLE!, up),
      audit: createAuditSink({ table: env.ARX_AUDIT_TABLE!, dataKeyArn: env.ARX_DATA_KEY_ARN! }),
    };

    await stepAudit({ ...deps, events: down }, tenant, t.termination_id);
    const final = await finalizeTermination({ ...deps, events: down }, tenant, t.termination_id);

    expect(final.status).toBe('complete');
    expect((await store.get(tenant, t.termination_id))?.steps.find((s) => s.name === 'audit')?.status).toBe('ok');
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    expect(await up.relay(later())).toBeGreaterThanOrEqual(3);
    const arrived = (await consumer.receive(3000)).filter((e) => e.detail.tenant_id === tenant);
    expect(arrived.map((e) => e.detail.event_id).sort()).toEqual([`${t.termination_id}.agt_a.terminated`, `${t.termination_id}.agt_b.terminated`, `${t.termination_id}.completed`]);
    expect(arrived.at(-1)?.['detail-type']).toBe('agent.terminated.completed');

    // a retried step or finalize commits nothing new, and a second relay sends nothing
    await stepAudit({ ...deps, events: up }, tenant, t.termination_id);
    await finalizeTermination({ ...deps, events: up }, tenant, t.termination_id);
    expect(await up.relay(later())).toBe(0);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  });
});
