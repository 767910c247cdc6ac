import { describe, expect, it } from 'vitest';
import { approvalStats, humanDuration, percentile } from '../../../lambdas/actions/core/stats.js';
import type { ApprovalRecord } from '../../../lambdas/actions/core/model.js';

const base = Date.parse('2026-04-24T10:00:00Z');
function approval(
  i: number,
  status: ApprovalRecord['status'],
  decidedAfterS: number | null,
  by = 'manager@example.com',
  policy = 'okta-access-review',
): ApprovalRecord {
  return {
    approval_id: `apr_${i}`,
    action_id: `act_${i}`,
    tenant_id: 't1',
    agent_id: 'agt_1',
    connector: 'okta',
    operation: 'users:deactivate',
    action: 'okta:users:deactivate',
    params: {},
    binding_hash: 'h',
    status,
    risk: 'high',
    policy,
    separation_of_duties: false,
    correlation_id: 'c',
    trace_id: 't',
    created_at: new Date(base).toISOString(),
    expires_at: new Date(base + 3600_000).toISOString(),
    ...(decidedAfterS === null
      ? {}
      : { decided_at: new Date(base + decidedAfterS * 1000).toISOString(), decided_by: by }),
  };
}

describe('approvalStats', () => {
  it('computes rates and time-to-decision per policy and approver', () => {
    const s = approvalStats([
      approval(1, 'approved', 135),
      approval(2, 'approved', 60),
      approval(3, 'denied', 30, 'sec@example.com'),
      approval(4, 'expired', null),
      approval(5, 'pending', null, 'x', 'aws-admin'),
    ]);
    expect(s).toMatchObject({
      total: 5,
      approved: 2,
      denied: 1,
      expired: 1,
      pending: 1,
      approval_rate: 0.5,
      denial_rate: 0.25,
    });
    expect(s.time_to_decision).toEqual({ count: 3, p50_ms: 60_000, p95_ms: 135_000, p50: '1 min', p95: '2 min 15 s' });
    expect(s.by_approver['manager@example.com']).toMatchObject({ approved: 2, approval_rate: 1 });
    expect(s.by_approver['sec@example.com']).toMatchObject({ denied: 1, denial_rate: 1 });
    expect(s.by_policy['aws-admin']).toMatchObject({ pending: 1, approval_rate: null });
  });
});

describe('percentile and humanDuration', () => {
  it('uses nearest rank and renders the brief’s SLA format', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 95)).toBe(4);
    expect(humanDuration(135_000)).toBe('2 min 15 s');
    expect(humanDuration(3_723_000)).toBe('1 h 2 min 3 s');
    expect(humanDuration(800)).toBe('0.8 s');
  });
});
