import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditKeyStore, KmsAuditKeyManager } from '../../../lambdas/audit/adapters/audit-keys.js';
import { TenantKeysBlockSigner } from '../../../lambdas/audit/adapters/deps.js';
import { DynamoChainStore } from '../../../lambdas/audit/adapters/dynamo-chain-store.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { S3BlockStore } from '../../../lambdas/audit/adapters/s3-block-store.js';
import { AuditKeys } from '../../../lambdas/audit/core/audit-keys.js';
import { AuditRecorder } from '../../../lambdas/audit/core/record.js';
import { type SealerDeps, sealTenant } from '../../../lambdas/audit/core/sealer.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox } from '../../../lambdas/shared/outbox.js';
import { provisionTestStack } from '../../support/stack.js';
import { downBus, later, observeBus } from './support.js';

describe('audit.block.sealed through the outbox (against moto)', () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ env } = await provisionTestStack());
  });

  const deps = (bus: EventBridgePublisher): SealerDeps => ({
    events: new DynamoEventStore(env.ARX_AUDIT_TABLE!),
    chain: new DynamoChainStore(env.ARX_AUDIT_TABLE!),
    blocks: new S3BlockStore(env.ARX_AUDIT_BUCKET!),
    signer: new TenantKeysBlockSigner(
      new AuditKeys(new DynamoAuditKeyStore(env.ARX_AUDIT_TABLE!), new KmsAuditKeyManager(), systemClock),
    ),
    timestamper: null,
    clock: systemClock,
    publisher: bus,
    outbox: { table: env.ARX_CONTROL_TABLE!, sink: new Outbox(env.ARX_CONTROL_TABLE!, bus) },
    owner: `test-${Math.random().toString(36).slice(2, 8)}`,
  });

  it('seals while the bus is down; the block is durable and its event arrives once after the relay', async () => {
    const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
    const consumer = await observeBus(env.ARX_EVENT_BUS!);
    const recorder = new AuditRecorder({
      store: new DynamoEventStore(env.ARX_AUDIT_TABLE!),
      cipher: new KmsEnvelopeCipher(env.ARX_DATA_KEY_ARN!),
      clock: systemClock,
    });
    for (let i = 0; i < 3; i++)
      await recorder.record({
        tenant_id: tenant,
        event_type: 'operation.executed',
        agent_id: 'agt_1',
        action: 'okta:users:read',
        target: `okta:user:${i}`,
        decision: 'permit',
        occurred_at: new Date().toISOString(),
        correlation_id: `c-${i}`,
        trace_id: 'd'.repeat(32),
        payload: { i },
      });

    const r = await sealTenant(deps(downBus()), tenant);
    expect(r.sealed).toEqual({ height: 1, events: 3, anchored: false });
    expect((await new DynamoChainStore(env.ARX_AUDIT_TABLE!).getChain(tenant))?.height).toBe(1);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);

    const up = new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!));
    expect(await up.relay(later())).toBeGreaterThanOrEqual(1);
    const got = (await consumer.receive()).filter((e) => e.detail.tenant_id === tenant);
    expect(got.map((e) => [e['detail-type'], e.detail.event_id, e.detail.height, e.detail.event_count])).toEqual([
      ['audit.block.sealed', `sealed:${tenant}:1`, 1, 3],
    ]);
    expect(await up.relay(later())).toBe(0);
    expect((await consumer.receive()).filter((e) => e.detail.tenant_id === tenant)).toEqual([]);
  });
});
