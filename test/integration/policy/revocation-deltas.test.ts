import { describe, it, expect, beforeAll } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { ManualClock } from '../../support/clock.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import { DeltaRevocationCache } from '../../../layers/pdp-extension/src/revocation-cache.js';
import { policyResources, revocationEntry, suffix } from './fixtures.js';

/**
 * F2: the extension's delta reader must not skip an entry that lands in the revocation table's
 * `by-time` index behind an entry it already read (concurrent cohort writers, clock skew, the
 * index's eventual consistency, a saga retry re-writing an old `revoked_at`).
 */
describe('revocation deltas against the emulator (F2)', () => {
  let r: Awaited<ReturnType<typeof policyResources>>;
  let drl: DynamoRevocationList;
  beforeAll(async () => {
    r = await policyResources('deltas');
    drl = new DynamoRevocationList(r.revocationTable);
  });

  /** Writes an entry as a slow concurrent writer would: its `seq` sorts `behindMs` before now. */
  const lateWrite = async (tenantId: string, agentId: string, behindMs: number) => {
    const e = revocationEntry(tenantId, agentId);
    await documentClient().send(
      new PutCommand({
        TableName: r.revocationTable,
        Item: {
          ...e,
          seq: `${new Date(Date.now() - behindMs).toISOString()}#${agentId}`,
          ttl_epoch: Math.floor(Date.parse(e.ttl_until) / 1000),
        },
      }),
    );
  };

  it('F2: an entry written behind the cursor after a later entry was read is still seen', async () => {
    const tenant = `t-${suffix()}`;
    const cache = new DeltaRevocationCache(drl, tenant, new ManualClock(Date.now()), 60_000);
    await drl.revoke(revocationEntry(tenant, 'agt_Z'));
    await cache.poll();
    expect(await cache.status(tenant, 'agt_Z')).toBe('revoked');
    // agt_C's entry sorts before agt_Z's (same cohort stop, another writer), but lands later
    await lateWrite(tenant, 'agt_C', 5_000);
    await cache.poll();
    expect(await cache.status(tenant, 'agt_C')).toBe('revoked');
    expect(await cache.status(tenant, 'agt_Z')).toBe('revoked');
    expect(cache.size).toBe(2);
  });

  it('F2: a saga retry re-writing an old revoked_at is seen by a reader that is already past it', async () => {
    const tenant = `t-${suffix()}`;
    const cache = new DeltaRevocationCache(drl, tenant, new ManualClock(Date.now()), 60_000);
    await drl.revoke(revocationEntry(tenant, 'agt_first'));
    await cache.poll();
    // the retry writes the termination's initiated_at, an hour ago: its seq is still the write time
    await drl.revoke(revocationEntry(tenant, 'agt_retried', new Date(Date.now() - 3600_000)));
    await cache.poll();
    expect(await cache.status(tenant, 'agt_retried')).toBe('revoked');
  });

  it('F2: an entry landing further behind than the overlap window is seen at the next full resync', async () => {
    const tenant = `t-${suffix()}`;
    const clock = new ManualClock(Date.now());
    const cache = new DeltaRevocationCache(drl, tenant, clock, 60_000, 1000, { resyncMs: 300_000 });
    await drl.revoke(revocationEntry(tenant, 'agt_now'));
    await cache.poll();
    await lateWrite(tenant, 'agt_way_behind', 10 * 60_000);
    await cache.poll();
    expect(await cache.status(tenant, 'agt_way_behind')).toBe('clear'); // outside the 60 s overlap
    clock.advance(300_000);
    await cache.poll();
    expect(await cache.status(tenant, 'agt_way_behind')).toBe('revoked');
  });

  it('F2: re-reading the overlap pages through more entries than one page holds', async () => {
    const tenant = `t-${suffix()}`;
    const cache = new DeltaRevocationCache(drl, tenant, new ManualClock(Date.now()), 60_000, 3);
    for (let i = 0; i < 7; i++) await drl.revoke(revocationEntry(tenant, `agt_${i}`));
    await cache.poll();
    await lateWrite(tenant, 'agt_late', 2_000);
    await cache.poll();
    expect(cache.size).toBe(8);
  });

  it('F2: the in-process checker reads each agent entry directly, so an entry behind any cursor is seen', async () => {
    const tenant = `t-${suffix()}`;
    const clock = new ManualClock(Date.now());
    const checker = new CachedRevocationChecker(drl, clock);
    expect(await checker.status(tenant, 'agt_C')).toBe('clear');
    await lateWrite(tenant, 'agt_C', 3600_000);
    clock.advance(500);
    expect(await checker.status(tenant, 'agt_C')).toBe('revoked');
  });
});
