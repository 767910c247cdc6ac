import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { newId } from '../../../lambdas/shared/ids.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { DynamoInventoryStore } from '../../../lambdas/identity/adapters/dynamo-inventory-store.js';
import { DynamoTerminationStore } from '../../../lambdas/killswitch/adapters/dynamo-termination-store.js';
import { initialSteps, type Termination } from '../../../lambdas/killswitch/core/model.js';
import { finalizeTermination, stepAudit } from '../../../lambdas/killswitch/core/saga.js';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import type { AuditSink } from '../../../lambdas/shared/ports.js';
import { provisionTestStack } from '../../support/stack.js';
import { downBus, later, observeBus } from './support.js';

describe('kill-switch events through the outbox (against moto)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
  });

  it('the audit step of a 45-agent cohort and the final status commit while the bus is down; every agent.terminated and the .completed arrive once after the relay', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const store = new DynamoTerminationStore(env.ARX_CONTROL_TABLE!);
    const up = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    const down = new Outbox(env.ARX_CONTROL_TABLE!, downBus());
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const agents = Array.from({ length: 45 }, (_, i) => `agt_${String(i).padStart(2, '0')}`);
    const t: Termination = {
      termination_id: newId('term'),
      tenant_id: tenant,
      scope: 'cohort',
      target_id: 'cohort-a',
      // more than one write's worth of results (40): each chunk commits its agents' events
      agent_ids: agents,
      reason: 'test',
      initiated_by: 'admin',
      initiated_at: new Date().toISOString(),
      status: 'in_flight',
      steps: initialSteps().map((s) => (s.name === 'audit' ? s : { ...s, status: 'ok' as const })),
      correlation_id: 'c-kill',
      trace_id: 't-kill',
    };
    await store.create(t);
    // Concurrent audit writes of one tenant fail now and then on moto (AuditWriteError; the state machine
    // would retry them): one at a time keeps this test about the events.
    const sink = createAuditSink({ table: env.ARX_AUDIT_TABLE!, dataKeyArn: env.ARX_DATA_KEY_ARN! });
    let tail: Promise<unknown> = Promise.resolve();
    const audit: AuditSink = {
      record: (input) => {
        const r = tail.then(() => sink.record(input));
        tail = r.catch(() => undefined);
        return r;
      },
    };
    const deps = {
      clock: systemClock,
      store,
      inventory: new DynamoInventoryStore(env.ARX_INVENTORY_TABLE!, env.ARX_CONTROL_TABLE!, up),
      audit,
    };

    // The state machine retries a step that failed for some agents; each retry runs only the rest.
    const auditStep = async (events: Outbox): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await stepAudit({ ...deps, events }, tenant, t.termination_id);
          return;
        } catch (e) {
          if (attempt >= 6) throw e;
        }
      }
    };
    await auditStep(down);
    const final = await finalizeTermination({ ...deps, events: down }, tenant, t.termination_id);

    expect(final.status).toBe('complete');
    expect((await store.get(tenant, t.termination_id))?.steps.find((s) => s.name === 'audit')?.status).toBe('ok');
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    expect(await up.relay(later())).toBe(46);
    const arrived = (await consumer.receive(4000)).filter((e) => e.detail.tenant_id === tenant);
    expect(arrived.map((e) => e.detail.event_id).sort()).toEqual(
      [...agents.map((a) => `${t.termination_id}.${a}.terminated`), `${t.termination_id}.completed`].sort(),
    );
    expect(arrived.at(-1)?.['detail-type']).toBe('agent.terminated.completed');

    // a retried step or finalize commits nothing new, and a second relay sends nothing
    await auditStep(up);
    await finalizeTermination({ ...deps, events: up }, tenant, t.termination_id);
    expect(await up.relay(later())).toBe(0);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  }, 180_000);
});
