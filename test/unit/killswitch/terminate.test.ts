import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { ManualClock } from '../../support/clock.js';
import { DependencyError, ForbiddenError, NotFoundError } from '../../../lambdas/shared/errors.js';
import { RecordingPublisher } from '../../support/events.js';
import { REVOCATION_MIN_RETENTION_S } from '../../../lambdas/shared/revocation.js';
import {
  QUORUM_WINDOW_MS,
  emergencyStop,
  terminateAgent,
  terminateCohort,
  type TerminateDeps,
} from '../../../lambdas/killswitch/core/terminate.js';
import {
  finalizeTermination,
  recordStepFailure,
  revocationRetentionSeconds,
  stepPlatform,
  PlatformKillError,
} from '../../../lambdas/killswitch/core/saga.js';
import { buildAttestation, signAttestation, verifyAttestation } from '../../../lambdas/killswitch/core/attestation.js';
import type { Signer } from '../../../lambdas/killswitch/core/ports.js';
import { MemoryInventory, MemoryRevocations, MemoryTerminationStore, RecordingStarter, agent } from './fakes.js';

const trace = { correlationId: 'cor-1', traceId: 'a'.repeat(32) };
const T = 'acme';

function deps(): TerminateDeps & {
  store: MemoryTerminationStore;
  inventory: MemoryInventory;
  revocations: MemoryRevocations;
  starter: RecordingStarter;
  clock: ManualClock;
} {
  return {
    clock: new ManualClock(),
    store: new MemoryTerminationStore(),
    inventory: new MemoryInventory(),
    revocations: new MemoryRevocations(),
    starter: new RecordingStarter(),
    tokenTtlSeconds: 3600,
  };
}

describe('terminateAgent', () => {
  it('writes inventory and revocation before starting the saga, and the entry lives max(token TTL, 30 days)', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));

    const { termination, created } = await terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace);

    expect(created).toBe(true);
    expect((await d.inventory.get(T, 'a1'))?.status).toBe('terminated');
    expect(d.revocations.entries).toHaveLength(1);
    const e = d.revocations.entries[0]!;
    expect(e).toMatchObject({ agent_id: 'a1', reason_code: 'terminated', revoked_at: termination.initiated_at });
    expect(Date.parse(e.ttl_until) - Date.parse(e.revoked_at)).toBe(REVOCATION_MIN_RETENTION_S * 1000);
    expect(d.starter.started).toEqual([termination.termination_id]);
    const stored = await d.store.get(T, termination.termination_id);
    expect(stored?.steps.slice(0, 2).map((s) => s.status)).toEqual(['ok', 'ok']);
    expect(stored?.execution_arn).toContain(termination.termination_id);
  });

  it('keeps the revocation for the token TTL when that is longer than 30 days', () => {
    expect(revocationRetentionSeconds(3600)).toBe(REVOCATION_MIN_RETENTION_S);
    expect(revocationRetentionSeconds(REVOCATION_MIN_RETENTION_S + 10)).toBe(REVOCATION_MIN_RETENTION_S + 10);
  });

  it('returns the existing termination instead of starting a second run', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    const first = await terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace);

    const second = await terminateAgent(d, { tenantId: T, subject: 'bob' }, 'a1', 'again', trace);

    expect(second.created).toBe(false);
    expect(second.termination.termination_id).toBe(first.termination.termination_id);
    expect(d.starter.started).toHaveLength(1);
  });

  it('fails closed with 503 and starts nothing when the inventory write fails; a retry resumes the same termination', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    d.inventory.failUpdates = true;

    await expect(terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace)).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect(d.starter.started).toHaveLength(0);
    // steps 1-2 run concurrently: the revocation entry (the safe side) is in, the saga is not started
    expect(d.revocations.entries).toHaveLength(1);

    d.inventory.failUpdates = false;
    const retry = await terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace);
    expect(retry.created).toBe(false);
    expect((await d.inventory.get(T, 'a1'))?.status).toBe('terminated');
    expect(d.starter.started).toEqual([retry.termination.termination_id]);
  });

  it('answers 404 for an agent of another tenant', async () => {
    const d = deps();
    await d.inventory.create(agent('other', 'a1'));
    await expect(terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('terminateCohort', () => {
  it('leaves agents another termination already covers to that termination', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1', { cohort: 'c' }));
    await d.inventory.create(agent(T, 'a2', { cohort: 'c' }));
    const single = await terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'first', trace);
    // a1 is already terminated (by the single-agent termination): the cohort run covers only a2
    const cohort = await terminateCohort(d, { tenantId: T, subject: 'alice' }, 'c', 'cohort', trace);
    expect(cohort.termination.agent_ids).toEqual(['a2']);
    expect(single.termination.agent_ids).toEqual(['a1']);
  });
});

describe('emergencyStop', () => {
  it('needs two different admins within 10 minutes; the same admin twice is refused', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    await d.inventory.create(agent(T, 'a2', { status: 'suspended' }));
    await d.inventory.create(agent(T, 'a3', { status: 'terminated' }));

    const first = await emergencyStop(d, { tenantId: T, subject: 'alice' }, T, 'breach', trace);
    expect(first.kind).toBe('pending_quorum');
    await expect(emergencyStop(d, { tenantId: T, subject: 'alice' }, T, 'breach', trace)).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    expect((await d.inventory.get(T, 'a1'))?.status).toBe('active');
    expect(d.starter.started).toHaveLength(0);

    const second = await emergencyStop(d, { tenantId: T, subject: 'bob' }, T, 'confirm', trace);
    expect(second.kind).toBe('started');
    const t = second.kind === 'started' ? second.outcome.termination : null;
    expect(t).toMatchObject({
      scope: 'org',
      initiated_by: 'alice',
      confirmed_by: 'bob',
      reason: 'breach',
      agent_ids: ['a1', 'a2'],
    });
    expect(d.store.quorum).toBeNull();
  });

  it('lets a request expire after 10 minutes: a later call starts a new request instead of confirming', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    await emergencyStop(d, { tenantId: T, subject: 'alice' }, T, 'breach', trace);
    d.clock.advance(QUORUM_WINDOW_MS + 1);

    const late = await emergencyStop(d, { tenantId: T, subject: 'bob' }, T, 'late', trace);

    expect(late.kind).toBe('pending_quorum');
    expect(late.kind === 'pending_quorum' && late.request.requested_by).toBe('bob');
    expect(d.starter.started).toHaveLength(0);
  });

  it('answers 404 when the path names another tenant', async () => {
    await expect(emergencyStop(deps(), { tenantId: T, subject: 'alice' }, 'other', 'x', trace)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('saga steps', () => {
  it('retries only the agents whose platform kill failed, then finalises as partial_failure once the step is recorded failed', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    await d.inventory.create(agent(T, 'a2', { platform: 'flaky' }));
    await d.inventory.create(agent(T, 'a3', { cohort: 'x' }));
    for (const a of ['a1', 'a2'])
      await d.inventory.update((await d.inventory.get(T, a))!, { cohort: 'k' }, { at: 'now', actor: 't', reason: 'r' });
    const { termination } = await terminateCohort(d, { tenantId: T, subject: 'alice' }, 'k', 'bad', trace);
    const calls: string[] = [];
    const platforms = {
      adapterFor: async (_t: string, platform: string) => ({
        name: 'fake',
        kill: async (a: { agent_id: string }) => {
          calls.push(a.agent_id);
          if (platform === 'flaky') throw new Error('503 from platform');
          return { outcome: 'killed' as const };
        },
      }),
    };
    const ctx = { clock: d.clock, store: d.store, inventory: d.inventory, platforms };

    await expect(stepPlatform(ctx, T, termination.termination_id)).rejects.toBeInstanceOf(PlatformKillError);
    await expect(stepPlatform(ctx, T, termination.termination_id)).rejects.toBeInstanceOf(PlatformKillError);
    expect(calls.filter((c) => c === 'a1')).toHaveLength(1); // done agents are not killed again
    expect(calls.filter((c) => c === 'a2')).toHaveLength(2);

    await recordStepFailure(d, T, termination.termination_id, 'platform', {
      Error: 'PlatformKillError',
      Cause: JSON.stringify({ errorMessage: 'platform failed for 1 agent(s)' }),
    });
    const events = new RecordingPublisher();
    const { status } = await finalizeTermination({ ...d, events }, T, termination.termination_id);

    expect(status).toBe('partial_failure');
    const t = await d.store.get(T, termination.termination_id);
    expect(t?.steps.find((s) => s.name === 'platform')).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: 'PlatformKillError: platform failed for 1 agent(s)',
    });
    expect(events.events).toEqual([
      expect.objectContaining({
        detailType: 'agent.terminated.completed',
        detail: expect.objectContaining({
          status: 'partial_failure',
          failed_steps: ['platform'],
          event_id: `${termination.termination_id}.completed`,
        }),
      }),
    ]);
    // steps 1-2 stay in force
    expect((await d.inventory.get(T, 'a2'))?.status).toBe('terminated');
  });
});

describe('exit attestation', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer: Signer = {
    sign: async (_t, data) => ({
      signature: cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
      kid: 'k1',
      alg: 'ES256',
    }),
  };

  it('is deterministic, signed over its digest, and any change breaks verification', async () => {
    const d = deps();
    await d.inventory.create(agent(T, 'a1'));
    const { termination } = await terminateAgent(d, { tenantId: T, subject: 'alice' }, 'a1', 'bad', trace);
    const t = (await d.store.get(T, termination.termination_id))!;
    const input = {
      termination: t,
      agents: [
        {
          agentId: 'a1',
          history: await d.inventory.history(T, 'a1'),
          activity: { action_counts: { 'okta:users:read': 3 }, approvals: [], events_seen: 3 },
        },
      ],
      chainHead: { height: 7, head_hash: 'h', block_id: 'blk-000000000007' },
      generatedAt: '2026-01-02T00:00:00.000Z',
      since: '2025-10-04T00:00:00.000Z',
    };

    const a = buildAttestation(input);
    expect(JSON.stringify(buildAttestation(input))).toBe(JSON.stringify(a));
    expect(a).toMatchObject({
      final_audit_block: { block_id: 'blk-000000000007' },
      agents: [{ agent_id: 'a1', final_status: 'terminated', activity: { total_actions: 3 } }],
    });
    const [file] = await signAttestation(a, signer, T);
    const envelope = JSON.parse(new TextDecoder().decode(file!.body));

    expect(verifyAttestation(envelope, publicKey)).toEqual({ valid: true });
    const changed = structuredClone(envelope);
    changed.attestation.agents[0].activity.action_counts['okta:users:read'] = 2;
    expect(verifyAttestation(changed, publicKey)).toEqual({ valid: false, reason: 'digest mismatch' });
    const forged = structuredClone(envelope);
    forged.signature.value = Buffer.from(
      cryptoSign('sha256', Buffer.from('other'), { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    ).toString('base64');
    expect(verifyAttestation(forged, publicKey)).toEqual({ valid: false, reason: 'bad signature' });
  });
});
