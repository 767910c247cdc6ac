import { describe, it, expect, beforeAll } from 'vitest';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { RecordingPublisher } from '../../support/events.js';
import type { RevocationEntry } from '../../../lambdas/shared/ports.js';
import { DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import { DynamoTerminationStore } from '../../../lambdas/killswitch/adapters/dynamo-termination-store.js';
import { finalizeTermination } from '../../../lambdas/killswitch/core/saga.js';
import { terminateCohort, type TerminateDeps } from '../../../lambdas/killswitch/core/terminate.js';
import type { RevocationWriter, SagaStarter } from '../../../lambdas/killswitch/core/ports.js';
import { inventoryOf, policyResources, suffix } from '../policy/fixtures.js';

/** The real revocation list, with a fault for the first run: every write fails (DynamoDB throttling). */
class FlakyRevocations implements RevocationWriter {
  failing = true;
  constructor(private readonly drl: DynamoRevocationList) {}
  async revoke(entry: RevocationEntry): Promise<void> {
    if (this.failing)
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
        name: 'ThrottlingException',
      });
    await this.drl.revoke(entry);
  }
}

/** Records which terminations got a saga (the saga itself is covered by saga.test.ts). */
class RecordingStarter implements SagaStarter {
  readonly started: string[] = [];
  async start(id: string): Promise<string> {
    this.started.push(id);
    return `arn:aws:states:us-east-1:123456789012:execution:arx-termination:${id}`;
  }
}

describe('F5: a retried cohort stop resumes the agents a failed run left (moto)', () => {
  let r: Awaited<ReturnType<typeof policyResources>>;
  let inv: ReturnType<typeof inventoryOf>;
  let drl: DynamoRevocationList;
  let store: DynamoTerminationStore;
  const caller = (tenantId: string) => ({ tenantId, subject: 'admin-1' });
  const trace = { correlationId: 'cor_f5', traceId: '0af7651916cd43dd8448eb211c80319c' };

  beforeAll(async () => {
    r = await policyResources('f5');
    inv = inventoryOf(r);
    drl = new DynamoRevocationList(r.revocationTable);
    store = new DynamoTerminationStore(r.controlTable);
  });

  const deps = (revocations: RevocationWriter, starter: SagaStarter): TerminateDeps => ({
    clock: systemClock,
    store,
    inventory: inv.store,
    revocations,
    starter,
    tokenTtlSeconds: 3600,
  });

  it('F5: agents whose revocation failed on the first run are revoked by the retry, and their termination is started', async () => {
    const tenant = `t-${suffix()}`;
    const agents = ['agt_a', 'agt_b', 'agt_c'];
    for (const a of agents) await inv.register(tenant, a, { cohort: 'night-shift' });
    const flaky = new FlakyRevocations(drl);
    const starter = new RecordingStarter();

    // first run: step 1 (inventory) succeeds, step 2 (revocation list) fails → 503, no saga
    await expect(
      terminateCohort(deps(flaky, starter), caller(tenant), 'night-shift', 'incident', trace),
    ).rejects.toBeInstanceOf(DependencyError);
    expect(starter.started).toEqual([]);
    const firstId = (await store.claimOf(tenant, 'agt_a'))!;
    for (const a of agents) {
      expect((await inv.store.get(tenant, a))!.status).toBe('terminated');
      expect(await drl.get(tenant, a, new Date())).toBeNull(); // terminated in the inventory, yet not on the list
    }

    // the admin retries once DynamoDB recovers
    flaky.failing = false;
    const retry = await terminateCohort(deps(flaky, starter), caller(tenant), 'night-shift', 'incident', trace);
    expect(retry.termination.agent_ids).toEqual([]);
    expect(retry.termination.already_terminating?.map((x) => x.termination_id)).toEqual([firstId, firstId, firstId]);
    for (const a of agents)
      expect(await drl.get(tenant, a, new Date())).toMatchObject({ agent_id: a, reason_code: 'terminated' });
    const first = (await store.get(tenant, firstId))!;
    expect(first.steps.slice(0, 2).map((s) => s.status)).toEqual(['ok', 'ok']);
    expect(starter.started).toEqual(expect.arrayContaining([firstId, retry.termination.termination_id]));
  });

  it('F5: finalize never reports complete while a target agent is not terminated and revoked', async () => {
    const tenant = `t-${suffix()}`;
    for (const a of ['agt_x', 'agt_y']) await inv.register(tenant, a, { cohort: 'c1' });
    const flaky = new FlakyRevocations(drl);
    await expect(
      terminateCohort(deps(flaky, new RecordingStarter()), caller(tenant), 'c1', 'incident', trace),
    ).rejects.toBeInstanceOf(DependencyError);
    const id = (await store.claimOf(tenant, 'agt_x'))!;
    const events = new RecordingPublisher();
    // no step is `failed` (step 2 is only pending), which used to read as complete
    const out = await finalizeTermination(
      { clock: systemClock, store, events, targets: { inventory: inv.store, revocationList: drl } },
      tenant,
      id,
    );
    expect(out).toEqual({ status: 'partial_failure', unstopped: ['agt_x', 'agt_y'] });
    const t = (await store.get(tenant, id))!;
    expect(t.status).toBe('partial_failure');
    expect(t.steps.find((s) => s.name === 'revocation')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('agt_x, agt_y'),
    });
    expect(events.events[0]!.detail).toMatchObject({
      status: 'partial_failure',
      unstopped_agent_ids: ['agt_x', 'agt_y'],
    });
  });

  it('F5: a retry after a full success starts nothing again and finalizes complete', async () => {
    const tenant = `t-${suffix()}`;
    for (const a of ['agt_ok1', 'agt_ok2']) await inv.register(tenant, a, { cohort: 'c2' });
    const starter = new RecordingStarter();
    const ok = new FlakyRevocations(drl);
    ok.failing = false;
    const first = await terminateCohort(deps(ok, starter), caller(tenant), 'c2', 'incident', trace);
    expect(first.termination.agent_ids).toEqual(['agt_ok1', 'agt_ok2']);
    const again = await terminateCohort(deps(ok, starter), caller(tenant), 'c2', 'again', trace);
    expect(again.termination.agent_ids).toEqual([]); // finished agents are not in scope any more
    expect(starter.started).toEqual([first.termination.termination_id, again.termination.termination_id]);
    const out = await finalizeTermination(
      {
        clock: systemClock,
        store,
        events: new RecordingPublisher(),
        targets: { inventory: inv.store, revocationList: drl },
      },
      tenant,
      first.termination.termination_id,
    );
    expect(out).toEqual({ status: 'complete' });
  });
});
