import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DependencyError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '../../../lambdas/shared/errors.js';
import { agent, harness, manager, trace } from './fakes.js';

const deactivate = {
  connector: 'okta',
  operation: 'users:deactivate',
  params: { user_id: 'john@acme.com' },
  correlation_id: 'uuid-12345',
};

describe('ActionService.submit', () => {
  it('runs a low-risk operation autonomously and records the decision before executing', async () => {
    const h = harness();
    const out = await h.svc.submit(
      agent,
      {
        connector: 'okta',
        operation: 'users:read',
        params: { filter: 'status eq "ACTIVE"' },
        correlation_id: 'corr-1',
      },
      trace,
    );
    expect(out.kind).toBe('executed');
    expect(out.action.status).toBe('executed');
    expect(out.action.result).toEqual({ ok: true, operation: 'users:read' });
    expect(out.action.correlation_id).toBe('corr-1');
    expect(h.okta.calls).toHaveLength(1);
    expect(h.okta.calls[0]!.secret).toEqual({ api_token: 's3cr3t' });
    expect(h.audit.records.map((r) => r.event_type)).toEqual(['policy.decision', 'operation.executed']);
    expect(h.events.events.map((e) => e.detailType)).toEqual(['operation.executed']);
    expect(h.events.events[0]!.detail).toMatchObject({
      tenant_id: 't1',
      correlation_id: 'corr-1',
      trace_id: trace.traceId,
      action_id: out.action.action_id,
    });
  });

  it('generates a correlation id when none is given', async () => {
    const h = harness();
    const out = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:create', params: { login: 'a@b.c' } },
      trace,
    );
    expect(out.kind).toBe('executed');
    expect(out.action.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.action.decision.approval).toBe('auto');
  });

  it('denies a forbidden operation without calling the connector', async () => {
    const h = harness();
    const out = await h.svc.submit(
      agent,
      { connector: 'okta', operation: 'users:delete', params: { user_id: 'x' } },
      trace,
    );
    expect(out.kind).toBe('denied');
    expect(out.action.decision.effect).toBe('forbid');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('fails closed to a deny when the PDP throws', async () => {
    const h = harness();
    h.pdp.fail = true;
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.kind).toBe('denied');
    expect(out.action.decision.errors).toEqual(['policy evaluation failed']);
    expect(h.okta.calls).toHaveLength(0);
  });

  it('denies a revoked agent and one whose revocation status is unknown', async () => {
    const h = harness();
    h.revocation.revoked.add('agt_1');
    expect((await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace)).kind).toBe(
      'denied',
    );
    h.revocation.revoked.clear();
    h.revocation.unknown = true;
    expect((await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace)).kind).toBe(
      'denied',
    );
    expect(h.pdp.calls).toHaveLength(0);
    expect(h.okta.calls).toHaveLength(0);
  });

  it('refuses an unknown connector, an unknown operation and bad params with 400', async () => {
    const h = harness();
    await expect(
      h.svc.submit(agent, { connector: 'jira', operation: 'users:read', params: {} }, trace),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      h.svc.submit(agent, { connector: 'okta', operation: 'users:nuke', params: {} }, trace),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      h.svc.submit(agent, { connector: 'okta', operation: 'toString', params: {} }, trace),
    ).rejects.toBeInstanceOf(ValidationError);
    const e = await h.svc
      .submit(agent, { connector: 'okta', operation: 'users:deactivate', params: { user_id: 1 } }, trace)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).errors[0]!.path).toBe('params.user_id');
    expect(h.store.actions.size).toBe(0);
  });

  it('does not execute when the decision cannot be audited', async () => {
    const h = harness();
    h.audit.fail = true;
    await expect(
      h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace),
    ).rejects.toBeInstanceOf(DependencyError);
    await expect(h.svc.submit(agent, deactivate, trace)).rejects.toBeInstanceOf(DependencyError);
    expect(h.okta.calls).toHaveLength(0);
    expect(h.store.approvals.size).toBe(0);
  });

  it('holds a high-risk operation for approval, notifies the channel and emits decision.required', async () => {
    const h = harness();
    const out = await h.svc.submit(agent, deactivate, trace);
    expect(out.kind).toBe('pending');
    if (out.kind !== 'pending') return;
    expect(out.action.status).toBe('pending_approval');
    expect(out.approval.expires_at).toBe('2026-04-24T11:13:15.000Z');
    expect(out.approval.channel).toBe('#access-reviews');
    expect(out.approval.owner_sub).toBe('owner-sub');
    expect(h.okta.calls).toHaveLength(0);
    expect(h.notifier.notified.map((a) => a.approval_id)).toEqual([out.approval.approval_id]);
    expect(h.events.events.map((e) => e.detailType)).toEqual(['decision.required']);
    expect(h.audit.records.map((r) => r.event_type)).toEqual(['decision.required']);
  });
});

describe('ActionService.decide', () => {
  async function pending(h = harness()) {
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    return { h, approval: out.approval, action: out.action };
  }

  it('executes an approved action once with approval metadata', async () => {
    const { h, approval } = await pending();
    h.clock.advance(135_000);
    const r = await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'Verified with HRIS');
    expect(r.approval.status).toBe('approved');
    expect(r.action.status).toBe('executed');
    expect(r.action.approval_metadata).toEqual({
      approval_id: approval.approval_id,
      approver: 'manager@example.com',
      decided_at: '2026-04-24T10:15:30.000Z',
      reason: 'Verified with HRIS',
      policy: 'okta-access-review',
      channel: 'api',
      time_to_decision_ms: 135_000,
    });
    expect(h.okta.calls).toEqual([
      { operation: 'users:deactivate', params: { user_id: 'john@acme.com' }, secret: { api_token: 's3cr3t' } },
    ]);
    expect(h.events.events.map((e) => e.detailType)).toEqual([
      'decision.required',
      'decision.approved',
      'operation.executed',
    ]);
    expect(new Set(h.events.events.map((e) => e.detail.correlation_id))).toEqual(new Set(['uuid-12345']));
    const audit = h.audit.records.map((x) => x.event_type);
    expect(audit.indexOf('decision.approved')).toBeLessThan(audit.indexOf('operation.executed'));
  });

  it('executes once when 50 approvers race', async () => {
    const { h, approval } = await pending();
    h.okta.state.delayMs = 5;
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        h.svc.decide('t1', approval.approval_id, { ...manager, id: `m${i}`, display: `m${i}@x.com` }, 'approve', 'ok'),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(49);
    expect(rejected.every((r) => r.reason instanceof ConflictError)).toBe(true);
    expect(h.okta.calls).toHaveLength(1);
  });

  it('refuses approval after expiry with 409 and marks the action expired', async () => {
    const { h, approval, action } = await pending();
    h.clock.advance(3600_000);
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'late')).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('expired');
    expect((await h.store.getAction('t1', action.action_id))!.status).toBe('expired');
    expect(h.events.events.map((e) => e.detailType)).toContain('decision.expired');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('refuses approval after a deny with 409', async () => {
    const { h, approval, action } = await pending();
    const denied = await h.svc.decide('t1', approval.approval_id, manager, 'deny', 'not this one');
    expect(denied.approval.status).toBe('denied');
    expect(denied.action.status).toBe('rejected');
    await expect(
      h.svc.decide('t1', approval.approval_id, manager, 'approve', 'changed my mind'),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await h.store.getAction('t1', action.action_id))!.status).toBe('rejected');
    expect(h.events.events.map((e) => e.detailType)).toContain('decision.denied');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('never lets an agent approve its own action', async () => {
    const { h, approval } = await pending();
    const self = {
      id: agent.spiffeId,
      display: agent.agentId,
      principalType: 'agent' as const,
      agentId: 'agt_1',
      via: 'api' as const,
    };
    await expect(h.svc.decide('t1', approval.approval_id, self, 'approve', 'me')).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    expect(h.okta.calls).toHaveLength(0);
  });

  it('refuses the owner under separation of duties and allows them without it (medium risk)', async () => {
    const h = harness();
    h.pdp.hitl = { ...h.pdp.hitl, separation_of_duties: true };
    const { approval } = await pending(h);
    const owner = {
      id: 'owner-sub',
      display: 'owner@example.com',
      email: 'owner@example.com',
      principalType: 'human' as const,
      via: 'api' as const,
    };
    await expect(h.svc.decide('t1', approval.approval_id, owner, 'approve', 'mine')).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(
      h.svc.decide('t1', approval.approval_id, { ...owner, id: 'other-sub' }, 'approve', 'same mail'),
    ).rejects.toBeInstanceOf(ForbiddenError);
    expect((await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).action.status).toBe('executed');

    // without separation of duties in the policy, and below high risk, the owner may approve
    const h2 = harness();
    h2.pdp.table['okta:users:deactivate'] = { effect: 'permit', approval: 'hitl', risk: 'medium' };
    const p2 = await pending(h2);
    expect((await h2.svc.decide('t1', p2.approval.approval_id, owner, 'approve', 'ok')).action.status).toBe('executed');
  });

  it('does not execute when the params changed between request and approval', async () => {
    const { h, approval, action } = await pending();
    const key = `t1|${action.action_id}`;
    h.store.actions.set(key, { ...h.store.actions.get(key)!, params: { user_id: 'ceo@acme.com' } });
    const r = await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok');
    expect(r.action.status).toBe('failed');
    expect(r.action.error?.code).toBe('binding_mismatch');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('does not execute when the binding hash was rewritten to match the new params', async () => {
    const { h, approval, action } = await pending();
    const key = `t1|${action.action_id}`;
    const { bindingHash } = await import('../../../lambdas/actions/core/signing.js');
    const forged = { user_id: 'ceo@acme.com' };
    h.store.actions.set(key, {
      ...h.store.actions.get(key)!,
      params: forged,
      binding_hash: bindingHash('agt_1', 'okta', 'users:deactivate', forged),
    });
    const r = await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok');
    expect(r.action).toMatchObject({ status: 'failed', error: { code: 'binding_mismatch' } });
    expect(h.okta.calls).toHaveLength(0);
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'again')).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it('cancels instead of executing when the agent was revoked while waiting', async () => {
    const { h, approval, action } = await pending();
    h.revocation.revoked.add('agt_1');
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await h.store.getAction('t1', action.action_id))!.status).toBe('cancelled');
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('cancelled');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('does not execute when the approval cannot be audited', async () => {
    const { h, approval, action } = await pending();
    h.audit.fail = true;
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect((await h.store.getAction('t1', action.action_id))!.status).toBe('failed');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('answers 404 for another tenant’s approval', async () => {
    const { h, approval } = await pending();
    await expect(h.svc.decide('t2', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('ActionService execution failures', () => {
  it('marks a connector failure failed, emits operation.failed and never re-runs it', async () => {
    const h = harness();
    h.okta.state.failNext = true;
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.kind).toBe('failed');
    expect(out.action.error).toEqual({ code: 'okta_503', message: 'Okta answered 503', retryable: true });
    expect(h.events.events.map((e) => e.detailType)).toEqual(['operation.failed']);
    const again = await h.svc.runExecution(out.action);
    expect(again.status).toBe('failed');
    expect(h.okta.calls).toHaveLength(1);
    const retry = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(retry.kind).toBe('executed');
    expect(h.okta.calls).toHaveLength(2);
  });

  it('runs an approved action only once when execution is invoked twice', async () => {
    const h = harness();
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const r = await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok');
    await h.svc.runExecution(r.action);
    expect(h.okta.calls).toHaveLength(1);
  });
});

describe('ActionService expiry, reads and kill switch', () => {
  it('expires overdue approvals in the sweeper exactly once', async () => {
    const h = harness();
    await h.svc.submit(agent, deactivate, trace);
    await h.svc.submit(agent, { ...deactivate, params: { user_id: 'b' } }, trace);
    expect(await h.svc.sweepExpired()).toBe(0);
    h.clock.advance(3600_001);
    expect(await h.svc.sweepExpired()).toBe(2);
    expect(await h.svc.sweepExpired()).toBe(0);
    expect(h.events.events.filter((e) => e.detailType === 'decision.expired')).toHaveLength(2);
  });

  it('long-polls until the action is final and hides another agent’s action', async () => {
    const h = harness();
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const waiting = h.svc.get({ tenantId: 't1', agentId: 'agt_1' }, out.action.action_id, 5);
    setTimeout(() => void h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok'), 30);
    const a = await waiting;
    expect(a.status).toBe('executed');
    expect(a.approval_metadata?.approver).toBe('manager@example.com');
    await expect(h.svc.get({ tenantId: 't1', agentId: 'agt_2' }, out.action.action_id)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await h.svc.get({ tenantId: 't1' }, out.action.action_id)).status).toBe('executed');
  });

  it('ends a long-poll when its budget of elapsed time is spent, whatever the wall clock says', async () => {
    let t = 0;
    const polls: number[] = [];
    const h = harness({
      monotonicMs: () => t,
      sleep: async (ms) => {
        polls.push(ms);
        t += ms; // each poll interval elapses; the injected wall clock never moves
      },
    });
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const a = await h.svc.get({ tenantId: 't1', agentId: 'agt_1' }, out.action.action_id, 2);
    expect(a.status).toBe('pending_approval');
    expect(polls.reduce((x, y) => x + y, 0)).toBe(2000); // 2 s of 250 ms polls, then the answer
  });

  it('expires lazily on read', async () => {
    const h = harness();
    const out = await h.svc.submit(agent, deactivate, trace);
    h.clock.advance(3600_000);
    expect((await h.svc.get({ tenantId: 't1' }, out.action.action_id)).status).toBe('expired');
    expect(await h.svc.listApprovals('t1', { status: 'pending' })).toEqual([]);
  });

  it('cancels an agent’s pending approvals for the kill switch', async () => {
    const h = harness();
    const a = await h.svc.submit(agent, deactivate, trace);
    const b = await h.svc.submit(agent, { ...deactivate, params: { user_id: 'b' } }, trace);
    expect(await h.svc.cancelPendingForAgent('t1', 'agt_1', 'agent terminated')).toBe(2);
    for (const o of [a, b]) {
      if (o.kind !== 'pending') throw new Error('expected pending');
      await expect(h.svc.decide('t1', o.approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect((await h.store.getAction('t1', o.action.action_id))!.status).toBe('cancelled');
    }
    expect(h.okta.calls).toHaveLength(0);
  });
});

describe('ActionService.recoverStalled', () => {
  it('resumes an approved action a crashed decider left unclaimed, fails an autonomous one, and never re-runs an executing one', async () => {
    const h = harness();
    const held = await h.svc.submit(agent, deactivate, trace);
    if (held.kind !== 'pending') throw new Error('expected pending');
    // a decider that crashed right after winning the approval: action approved, not yet claimed
    const meta = {
      approval_id: held.approval.approval_id,
      approver: 'm',
      decided_at: '2026-04-24T10:14:00.000Z',
      reason: 'ok',
      policy: 'okta-access-review',
      channel: 'api',
      time_to_decision_ms: 45_000,
    };
    expect(
      await h.store.resolveApproval(
        held.approval,
        { status: 'approved', at: '2026-04-24T10:14:00.000Z' },
        'pending_execution',
        { approval_metadata: meta },
      ),
    ).toBe('ok');
    const base = { ...held.action, approval_id: undefined, expires_at: undefined, approval_metadata: undefined };
    await h.store.create({
      ...base,
      action_id: 'act_auto',
      action: 'okta:users:read',
      operation: 'users:read',
      params: {},
      status: 'pending_execution',
      updated_at: '2026-04-24T10:13:15.000Z',
    });
    await h.store.create({
      ...base,
      action_id: 'act_exec',
      status: 'executing',
      updated_at: '2026-04-24T10:13:15.000Z',
    });

    expect(await h.svc.recoverStalled()).toEqual({ resumed: 0, failed: 0 }); // not stalled yet
    h.clock.advance(16 * 60_000);
    expect(await h.svc.recoverStalled()).toEqual({ resumed: 1, failed: 2 });
    expect((await h.store.getAction('t1', held.action.action_id))!.status).toBe('executed');
    expect((await h.store.getAction('t1', 'act_auto'))!.error).toMatchObject({ code: 'interrupted', retryable: true });
    expect((await h.store.getAction('t1', 'act_exec'))!.error).toMatchObject({
      code: 'outcome_unknown',
      retryable: false,
    });
    expect(h.okta.calls.map((c) => c.operation)).toEqual(['users:deactivate']);
    expect(await h.svc.recoverStalled()).toEqual({ resumed: 0, failed: 0 });
  });
});

describe('ActionService fail-closed decisions', () => {
  it('keeps an approval pending (503) when the revocation list cannot be read', async () => {
    const h = harness();
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    h.revocation.unknown = true;
    await expect(h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect((await h.store.getApproval('t1', out.approval.approval_id))!.status).toBe('pending');
    h.revocation.unknown = false;
    expect((await h.svc.decide('t1', out.approval.approval_id, manager, 'approve', 'ok')).action.status).toBe(
      'executed',
    );
  });

  it('refuses a channel approver without an e-mail under separation of duties', async () => {
    const h = harness();
    h.pdp.hitl = { ...h.pdp.hitl, separation_of_duties: true };
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    const slackUser = {
      id: 'slack:T1/U1',
      display: 'roadrunner',
      principalType: 'human' as const,
      via: 'slack' as const,
    };
    await expect(h.svc.decide('t1', out.approval.approval_id, slackUser, 'approve', 'ok')).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    expect(h.okta.calls).toHaveLength(0);
  });
});

describe('ActionService.submit with a spend gate', () => {
  const read = { connector: 'okta', operation: 'users:read', params: { filter: 'status eq "ACTIVE"' } };
  function gate(context: () => Promise<unknown>, reserve: () => Promise<unknown>) {
    const calls: string[] = [];
    return {
      calls,
      spend: {
        context: () => {
          calls.push('context');
          return context();
        },
        reserve: () => {
          calls.push('reserve');
          return reserve();
        },
        settle: async () => void calls.push('settle'),
      } as never,
    };
  }

  it('asks the ledger once when no budget applies: no reservation and nothing to settle', async () => {
    const g = gate(
      async () => null,
      async () => ({ ok: true, id: 'x', usd: 0, held: false }),
    );
    const out = await harness({ spend: g.spend }).svc.submit(agent, read, trace);
    expect(out.kind).toBe('executed');
    expect(g.calls).toEqual(['context']);
  });

  it('reserves before running and settles after when a budget applies', async () => {
    const ctx = {
      spend: { period_usd: 1, period: 'day' },
      budget: { usd: 5, remaining_usd: 4, period: 'day', over: 'forbid' },
    };
    const g = gate(
      async () => ctx,
      async () => ({ ok: true, id: 'x', usd: 0.1, held: true }),
    );
    const out = await harness({ spend: g.spend }).svc.submit(agent, read, trace);
    expect(out.kind).toBe('executed');
    expect(g.calls).toEqual(['context', 'reserve', 'settle']);
  });

  it('still fails closed when the ledger cannot answer for the context and then cannot reserve', async () => {
    const g = gate(
      async () => {
        throw new Error('ledger down');
      },
      async () => {
        throw new Error('ledger down');
      },
    );
    const h = harness({ spend: g.spend });
    const out = await h.svc.submit(agent, read, trace);
    expect(out.kind).toBe('denied');
    expect(out.action.decision.effect).toBe('forbid');
    expect(out.action.decision.errors.join(' ')).toMatch(/budget/);
    expect(h.okta.calls).toHaveLength(0);
  });
});
