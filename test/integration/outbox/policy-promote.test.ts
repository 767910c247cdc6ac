import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import { S3BundleStore } from '../../../lambdas/policy/adapters/s3-bundles.js';
import { TenantBundleSigner } from '../../../lambdas/policy/core/signing.js';
import { createTenantSigner } from '../../../lambdas/identity/signer.js';
import { DynamoVersionCounter, RevocationTableIds } from '../../../lambdas/policy/adapters/dynamo-control.js';
import { PolicyService } from '../../../lambdas/policy/core/service.js';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import { auditInputFromBus } from '../../../lambdas/audit/core/bus.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { provisionTestStack } from '../../support/stack.js';
import { downBus, later, observeBus, type BusEvent } from './support.js';

const YAML = `
- name: okta-access-review
  connector: okta
  operations: { "users:read*": low }
  risk_max: high
`;

describe('policy promote through the outbox (against moto)', () => {
  let env: Record<string, string>;
  let store: S3BundleStore;
  const service = (events: Outbox) =>
    new PolicyService({
      repo: store,
      versions: new DynamoVersionCounter(env.ARX_CONTROL_TABLE!),
      signer: new TenantBundleSigner(
        createTenantSigner({
          env: { ARX_CONTROL_TABLE: env.ARX_CONTROL_TABLE!, ARX_SIGNING_KEY_ARN: env.ARX_SIGNING_KEY_ARN! },
        }),
      ),
      revoked: new RevocationTableIds(new DynamoRevocationList(env.ARX_REVOCATION_TABLE!), systemClock),
      events,
      clock: systemClock,
    });

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
    store = new S3BundleStore(env.ARX_BUNDLE_BUCKET!);
  });

  it('promotes while the bus is down, and bundle.promoted reaches the audit chain once after the bus returns', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const up = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    const pushed = await service(up).push(tenant, { format: 'yaml', document: YAML });

    const answer = await service(new Outbox(env.ARX_CONTROL_TABLE!, downBus())).promote(
      tenant,
      pushed.bundle_id,
      'admin@example.com',
      { correlation_id: 'c-promote', trace_id: 't-promote' },
    );

    expect(answer).toEqual({ live_bundle_id: pushed.bundle_id, version: pushed.version });
    expect((await store.getLive(tenant))?.bundle_id).toBe(pushed.bundle_id);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    expect(await up.relay(later())).toBeGreaterThanOrEqual(1);
    const first = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(first.map((e) => [e['detail-type'], e.detail.bundle_id])).toEqual([['bundle.promoted', pushed.bundle_id]]);
    expect(await up.relay(later())).toBe(0);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    // The audit consumer de-duplicates on the event id: a redelivery records nothing more.
    const recorder = createAuditSink({ table: env.ARX_AUDIT_TABLE!, dataKeyArn: env.ARX_DATA_KEY_ARN! }).recorder();
    const deliver = async (e: BusEvent) => {
      const m = auditInputFromBus(e['detail-type'], e.detail, new Date())!;
      return (await recorder.recordEvent(m.input, m.dedupeKey)).duplicate;
    };
    expect(await deliver(first[0]!)).toBe(false);
    expect(await deliver(first[0]!)).toBe(true);
    const audited = await new DynamoEventStore(env.ARX_AUDIT_TABLE!).listEvents(tenant, {
      type: 'bundle.promoted',
      limit: 10,
    });
    expect(audited.items.map((a) => a.target)).toEqual([`bundle:${pushed.bundle_id}`]);
  });

  it('leaves no announcement when the live pointer cannot be written', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const up = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    const pushed = await service(up).push(tenant, { format: 'yaml', document: YAML });
    const broken = new PolicyService({
      repo: {
        ...store,
        get: (t, id) => store.get(t, id),
        keyOf: (t, id) => store.keyOf(t, id),
        getLive: (t) => store.getLive(t),
        put: (b) => store.put(b),
        putLive: () => Promise.reject(new Error('s3 unavailable')),
      },
      versions: new DynamoVersionCounter(env.ARX_CONTROL_TABLE!),
      signer: new TenantBundleSigner(
        createTenantSigner({
          env: { ARX_CONTROL_TABLE: env.ARX_CONTROL_TABLE!, ARX_SIGNING_KEY_ARN: env.ARX_SIGNING_KEY_ARN! },
        }),
      ),
      revoked: new RevocationTableIds(new DynamoRevocationList(env.ARX_REVOCATION_TABLE!), systemClock),
      events: new Outbox(env.ARX_CONTROL_TABLE!, downBus()),
      clock: systemClock,
    });
    const consumer = await observeBus(env.ARX_EVENT_BUS!);

    await expect(
      broken.promote(tenant, pushed.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' }),
    ).rejects.toThrow('s3 unavailable');

    expect(await store.getLive(tenant)).toBeNull();
    await up.relay(later());
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  });
});
