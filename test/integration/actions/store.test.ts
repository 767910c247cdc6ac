import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import { SecretsManagerStore } from '../../../lambdas/actions/adapters/secrets.js';
import { ConflictError } from '../../../lambdas/shared/errors.js';
import { createControlTable } from './support.js';
import { agent, harness, manager, trace } from '../../unit/actions/fakes.js';

const deactivate = {
  connector: 'okta',
  operation: 'users:deactivate',
  params: { user_id: 'john@acme.com' },
  correlation_id: 'uuid-12345',
};

describe('DynamoActionStore with ActionService (against moto)', () => {
  let table: string;
  beforeAll(async () => {
    table = await createControlTable('actions-store');
  });

  function setup() {
    const store = new DynamoActionStore(table);
    const h = harness({ store });
    return { ...h, store };
  }

  it('runs the connector once when 50 approvals race on one request', async () => {
    const h = setup();
    h.okta.state.delayMs = 20;
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        h.svc.decide(
          't1',
          out.approval.approval_id,
          { ...manager, id: `m${i}`, display: `m${i}@x.com` },
          'approve',
          'ok',
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError),
    ).toBe(true);
    expect(h.okta.calls).toHaveLength(1);
    const stored = await h.store.getAction('t1', out.action.action_id);
    expect(stored).toMatchObject({
      status: 'executed',
      attempts: 1,
      result: { ok: true, operation: 'users:deactivate' },
    });
    expect(stored!.approval_metadata?.approval_id).toBe(out.approval.approval_id);
    expect((await h.store.getApproval('t1', out.approval.approval_id))!.status).toBe('approved');
  });

  it('round-trips params exactly and finds the tenant of an approval by id', async () => {
    const h = setup();
    const params = { user_id: 'odd "quoted" ünïcode@acme.com' };
    const out = await h.svc.submit(agent, { ...deactivate, params }, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    expect((await h.store.getAction('t1', out.action.action_id))!.params).toEqual(params);
    expect(await h.store.approvalTenant(out.approval.approval_id)).toBe('t1');
    expect(await h.store.approvalTenant('apr_unknown')).toBeNull();
    expect(await h.store.getAction('t2', out.action.action_id)).toBeNull();
  });

  it('expires through the sweeper index and refuses a later approval with 409', async () => {
    const h = setup();
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    h.clock.advance(3600_000);
    const due = await h.store.dueApprovals(h.clock.now().toISOString(), 1000);
    expect(due).toContainEqual({ tenant_id: 't1', approval_id: out.approval.approval_id });
    expect(await h.svc.sweepExpired(1000)).toBeGreaterThanOrEqual(1);
    expect((await h.store.getApproval('t1', out.approval.approval_id))!.status).toBe('expired');
    expect(await h.store.dueApprovals(h.clock.now().toISOString(), 1000)).not.toContainEqual({
      tenant_id: 't1',
      approval_id: out.approval.approval_id,
    });
    await expect(h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'late')).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(h.okta.calls).toHaveLength(0);
  });

  it('lists approvals by status and cancels an agent’s pending ones for the kill switch', async () => {
    const h = setup();
    const me = { ...agent, agentId: `agt_${Date.now()}` };
    h.agents.agents.set(me.agentId, { agent_id: me.agentId, status: 'active', owner_sub: 'o' });
    const a = await h.svc.submit(me, deactivate, trace);
    const b = await h.svc.submit(me, { ...deactivate, params: { user_id: 'jane@acme.com' } }, trace);
    if (a.kind !== 'pending' || b.kind !== 'pending') throw new Error('expected pending');
    const pending = await h.svc.listApprovals('t1', { status: 'pending' });
    expect(pending.map((p) => p.approval_id)).toEqual(
      expect.arrayContaining([a.approval.approval_id, b.approval.approval_id]),
    );
    expect(await h.svc.cancelPendingForAgent('t1', me.agentId, 'agent terminated')).toBe(2);
    expect(await h.svc.cancelPendingForAgent('t1', me.agentId, 'agent terminated')).toBe(0);
    const cancelled = await h.svc.listApprovals('t1', { status: 'cancelled' });
    expect(cancelled.map((p) => p.approval_id)).toEqual(
      expect.arrayContaining([a.approval.approval_id, b.approval.approval_id]),
    );
    await expect(h.svc.decide('t1', a.approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it('does not execute when the stored params were changed after the request', async () => {
    const h = setup();
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { documentClient } = await import('../../../lambdas/shared/aws.js');
    await documentClient().send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: `T#t1#ACTION#${out.action.action_id}`, sk: 'ACTION' },
        UpdateExpression: 'SET params_json = :p',
        ExpressionAttributeValues: { ':p': JSON.stringify({ user_id: 'ceo@acme.com' }) },
      }),
    );
    const r = await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok');
    expect(r.action).toMatchObject({ status: 'failed', error: { code: 'binding_mismatch' } });
    expect(h.okta.calls).toHaveLength(0);
  });

  it('claims with one conditional update that answers the stored action; answers executed actions as stored', async () => {
    const h = setup();
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.action.status).toBe('executed');
    // What submit answered is what a later read finds.
    expect(await h.store.getAction('t1', out.action.action_id)).toEqual(out.action);
    const held = await h.svc.submit(agent, deactivate, trace);
    if (held.kind !== 'pending') throw new Error('expected pending');
    const patch = { updated_at: new Date().toISOString(), incrementAttempts: true };
    expect(await h.store.claim('t1', held.action.action_id, ['pending_execution'], 'executing', patch)).toBeNull();
    expect((await h.store.getAction('t1', held.action.action_id))?.status).toBe('pending_approval');
    const claimed = await h.store.claim('t1', held.action.action_id, ['pending_approval'], 'executing', patch);
    expect(claimed).toEqual(await h.store.getAction('t1', held.action.action_id));
    expect(claimed).toMatchObject({
      status: 'executing',
      attempts: held.action.attempts + 1,
      params: deactivate.params,
    });
    expect(await h.store.claim('t2', held.action.action_id, ['executing'], 'executed', patch)).toBeNull();
  });

  it('caps a connector result over 300 KB as {truncated, bytes}: the one rule the store and the answer share', async () => {
    const { storedResult, MAX_RESULT_BYTES } = await import('../../../lambdas/actions/core/model.js');
    const big = { blob: 'x'.repeat(MAX_RESULT_BYTES) };
    expect(storedResult(big)).toEqual({ truncated: true, bytes: MAX_RESULT_BYTES + 11 });
    expect(storedResult({ a: 1 })).toEqual({ a: 1 });
    expect(storedResult(undefined)).toBeNull();
  });

  it('marks a connector failure failed and never re-runs it', async () => {
    const h = setup();
    h.okta.state.failNext = true;
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.action).toMatchObject({ status: 'failed', error: { code: 'okta_503', retryable: true } });
    await h.svc.runExecution(out.action);
    expect(h.okta.calls).toHaveLength(1);
    expect(h.events.events.map((e) => e.detailType)).toEqual(['operation.failed']);
  });

  it('stores connector config and refuses a replayed one-time marker', async () => {
    const store = new DynamoActionStore(table);
    await store.putConfig('t1', 'okta', { base_url: 'https://acme.okta.com' }, new Date().toISOString());
    expect(await store.getConfig('t1', 'okta')).toEqual({ base_url: 'https://acme.okta.com' });
    expect(await store.getConfig('t2', 'okta')).toBeNull();
    const key = `k-${Date.now()}`;
    expect(await store.useOnce(key, new Date(Date.now() + 600_000))).toBe(true);
    expect(await store.useOnce(key, new Date(Date.now() + 600_000))).toBe(false);
  });
});

describe('SecretsManagerStore (against moto)', () => {
  it('creates, overwrites and reads a JSON secret; a missing one is null', async () => {
    const s = new SecretsManagerStore();
    const name = `arx/t-${Date.now()}/connectors/okta`;
    expect(await s.get(name)).toBeNull();
    await s.put(name, { api_token: 'one' });
    await s.put(name, { api_token: 'two' });
    expect(await s.get(name)).toEqual({ api_token: 'two' });
  });
});

describe('DynamoActionStore recovery index (against moto)', () => {
  it('lists only in-flight actions older than the cut-off and drops them once final', async () => {
    const table = await createControlTable('actions-recovery');
    const store = new DynamoActionStore(table);
    const h = harness({ store });
    const held = await h.svc.submit(agent, deactivate, trace);
    if (held.kind !== 'pending') throw new Error('expected pending');
    const meta = {
      approval_id: held.approval.approval_id,
      approver: 'm',
      decided_at: h.clock.now().toISOString(),
      reason: 'ok',
      policy: null,
      channel: 'api',
      time_to_decision_ms: 0,
    };
    expect(
      await store.resolveApproval(
        held.approval,
        { status: 'approved', at: h.clock.now().toISOString() },
        'pending_execution',
        { approval_metadata: meta },
      ),
    ).toBe('ok');
    expect(await store.inflightActions(h.clock.now().toISOString(), 100)).toEqual([]);
    h.clock.advance(120_000);
    expect(await store.inflightActions(h.clock.now().toISOString(), 100)).toEqual([
      { tenant_id: 't1', action_id: held.action.action_id },
    ]);
    expect(await h.svc.recoverStalled()).toEqual({ resumed: 1, failed: 0 });
    expect((await store.getAction('t1', held.action.action_id))!.status).toBe('executed');
    expect(await store.inflightActions(h.clock.now().toISOString(), 100)).toEqual([]);
  });
});
