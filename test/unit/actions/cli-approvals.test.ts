import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/commands/approvals.js';
import { recordingServer } from '../../integration/actions/support.js';

const approval = {
  approval_id: 'apr_1',
  status: 'pending',
  action: 'okta:users:deactivate',
  agent_id: 'agt_1',
  agent_name: 'access-reviewer',
  risk: 'high',
  policy: 'okta-access-review',
  params: { user_id: 'john@acme.com' },
  created_at: '2026-04-24T10:13:15Z',
  expires_at: '2026-04-24T11:13:15Z',
};

describe('arx approvals', () => {
  let srv: Awaited<ReturnType<typeof recordingServer>>;
  let decided = false;
  beforeAll(async () => {
    srv = await recordingServer((c) => {
      if (c.headers.authorization !== 'Bearer appr-token')
        return { status: 401, body: { title: 'Authentication required' } };
      if (c.method === 'GET' && c.path === '/v1/approvals?status=pending')
        return { status: 200, body: { items: decided ? [] : [approval] } };
      if (c.method === 'POST' && c.path === '/v1/approvals/apr_1/decision') {
        if (decided)
          return { status: 409, body: { title: 'Conflict', detail: 'the approval is no longer pending (approved)' } };
        decided = true;
        return {
          status: 200,
          body: {
            approval: { ...approval, status: 'approved', decided_by: 'manager@example.com' },
            action: { action_id: 'act_1', status: 'executed' },
          },
        };
      }
      if (c.path === '/v1/approvals/stats')
        return {
          status: 200,
          body: {
            approved: 1,
            denied: 0,
            expired: 0,
            pending: 0,
            approval_rate: 1,
            time_to_decision: { p50: '2 min 15 s', p95: '2 min 15 s' },
          },
        };
      return { status: 404, body: {} };
    });
  });
  afterAll(async () => srv?.close());

  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: {
        out: (s: string) => out.push(s),
        err: (s: string) => err.push(s),
        fetch,
        env: { ARX_API_URL: srv.url, ARX_TOKEN: 'appr-token' },
        cwd: '/nonexistent',
      },
    };
  }

  it('lists pending approvals, approves one, then reports 409 on a second decision', async () => {
    const a = io();
    expect(await run(['list'], a.io)).toBe(0);
    expect(a.out.join('')).toContain(
      'apr_1  pending    high      okta:users:deactivate john@acme.com  agent=access-reviewer',
    );
    const b = io();
    expect(await run(['approve', 'apr_1', '--reason', 'Verified with HRIS'], b.io)).toBe(0);
    expect(b.out.join('')).toBe('apr_1 approved by manager@example.com; action act_1 executed\n');
    expect(JSON.parse(srv.calls.at(-1)!.body)).toEqual({ decision: 'approve', reason: 'Verified with HRIS' });
    const c = io();
    expect(await run(['deny', 'apr_1', '--reason', 'too late'], c.io)).toBe(1);
    expect(c.err.join('')).toContain('409 Conflict: the approval is no longer pending (approved)');
  });

  it('prints the SLA view and refuses a decision without a reason', async () => {
    const a = io();
    expect(await run(['stats'], a.io)).toBe(0);
    expect(a.out.join('')).toContain('time to decision p50 2 min 15 s');
    const b = io();
    expect(await run(['approve', 'apr_1'], b.io)).toBe(2);
  });
});
