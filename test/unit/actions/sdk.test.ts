import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionDenied, ActionFailed, ApprovalExpired, ArxClient, ArxSdkError, governTool } from '../../../sdk/index.js';
import { recordingServer, type RecordedCall } from '../../integration/actions/support.js';

/** A loopback ARX speaking the wire contract: token exchange, POST /v1/actions, GET ?wait. */
function fakeArx() {
  let n = 0;
  const issued: string[] = [];
  const polls: Record<string, number> = {};
  const jwt = (expS: number) => {
    const t = `h.${Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + expS, n: ++n })).toString('base64url')}.s`;
    issued.push(t);
    return t;
  };
  const decision = {
    effect: 'permit',
    approval: 'hitl',
    risk: 'high',
    policy: 'okta-access-review',
    determining_policies: [],
    errors: [],
    bundle_version: 'v1',
  };
  const final: Record<string, unknown> = {
    act_ok: {
      action_id: 'act_ok',
      status: 'executed',
      correlation_id: 'c',
      trace_id: 't',
      decision,
      result: { deactivated: true },
      approval_metadata: {
        approval_id: 'apr_1',
        approver: 'manager@example.com',
        decided_at: '2026-04-24T10:15:30Z',
        reason: 'Verified with HRIS',
        policy: 'okta-access-review',
      },
    },
    act_exp: {
      action_id: 'act_exp',
      status: 'expired',
      correlation_id: 'c',
      trace_id: 't',
      decision,
      approval_id: 'apr_2',
    },
    act_rej: { action_id: 'act_rej', status: 'rejected', correlation_id: 'c', trace_id: 't', decision },
  };
  const expiresIn = { value: 3600 };
  /** Refresh tokens: single use, like the server's (a spent one is refused). */
  const refreshTokens = new Set<string>();
  const grants: string[] = [];
  const respond = (c: RecordedCall) => {
    if (c.path === '/v1/identity/token') {
      const f = new URLSearchParams(c.body);
      const grant = f.get('grant_type') ?? '';
      grants.push(grant);
      const ok =
        grant === 'refresh_token'
          ? refreshTokens.delete(f.get('refresh_token') ?? '')
          : f.get('subject_token') === 'boot' && grant === 'urn:ietf:params:oauth:grant-type:token-exchange';
      if (!ok) return { status: 400, body: { error: 'invalid_grant' } };
      const rt = `arxrt_${++n}`;
      refreshTokens.add(rt);
      return {
        status: 200,
        body: {
          access_token: jwt(expiresIn.value),
          issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          token_type: 'Bearer',
          expires_in: expiresIn.value,
          refresh_token: rt,
        },
      };
    }
    const token = c.headers.authorization?.slice(7) ?? '';
    if (!issued.includes(token) || (token === issued[0] && issued.length > 1 && revokedFirst.value))
      return { status: 401, body: { title: 'Authentication required' } };
    if (c.method === 'POST' && c.path === '/v1/actions') {
      const b = JSON.parse(c.body) as { operation: string; params: Record<string, unknown>; correlation_id: string };
      const base = {
        correlation_id: b.correlation_id,
        trace_id: c.headers.traceparent?.split('-')[1],
        decision: { ...decision, approval: 'none', risk: 'low' },
      };
      switch (b.operation) {
        case 'users:read':
          return {
            status: 200,
            body: {
              ...base,
              action_id: 'act_r',
              status: 'executed',
              result: { users: [b.params] },
              approval_metadata: null,
            },
          };
        case 'users:delete':
          return {
            status: 403,
            body: {
              ...base,
              action_id: 'act_d',
              status: 'denied',
              decision: { ...decision, effect: 'forbid', errors: [] },
            },
          };
        case 'users:suspend':
          return {
            status: 502,
            body: {
              ...base,
              action_id: 'act_f',
              status: 'failed',
              error: { code: 'okta_503', message: 'Okta answered 503', retryable: true },
            },
          };
        case 'users:nuke':
          return {
            status: 400,
            body: { type: 'x', title: 'Request validation failed', status: 400, detail: 'unknown operation' },
          };
        default: {
          const id = String(b.params.id);
          return {
            status: 202,
            body: {
              ...base,
              action_id: id,
              status: 'pending_approval',
              approval_id: 'apr_x',
              expires_at: '2026-04-24T11:13:15Z',
            },
          };
        }
      }
    }
    const m = /^\/v1\/actions\/(\w+)\?wait=(\d+)$/.exec(c.path);
    if (c.method === 'GET' && m) {
      polls[m[1]!] = (polls[m[1]!] ?? 0) + 1;
      if (polls[m[1]!]! < 3)
        return {
          status: 200,
          body: { action_id: m[1], status: 'pending_approval', correlation_id: 'c', trace_id: 't', decision },
        };
      return { status: 200, body: final[m[1]!] };
    }
    return { status: 404, body: {} };
  };
  const revokedFirst = { value: false };
  return { respond, issued, polls, expiresIn, revokedFirst, grants };
}

describe('ArxClient', () => {
  let fake: ReturnType<typeof fakeArx>;
  let srv: Awaited<ReturnType<typeof recordingServer>>;
  beforeAll(async () => {
    fake = fakeArx();
    srv = await recordingServer((c) => fake.respond(c));
  });
  afterAll(async () => srv?.close());

  const client = () => new ArxClient({ apiUrl: srv.url, bootstrapToken: 'boot', pollWaitS: 1 });

  it('exchanges the bootstrap token for an SVID and runs an autonomous action with trace context', async () => {
    const r = await client().execute<{ users: unknown[] }>({
      connector: 'okta',
      operation: 'users:read',
      params: { filter: 'x' },
      correlationId: 'corr-1',
    });
    expect(r).toMatchObject({
      actionId: 'act_r',
      status: 'executed',
      result: { users: [{ filter: 'x' }] },
      correlationId: 'corr-1',
      approvalMetadata: null,
    });
    const post = srv.calls.filter((c) => c.path === '/v1/actions').at(-1)!;
    expect(post.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(srv.calls.filter((c) => c.path === '/v1/identity/token').length).toBeGreaterThanOrEqual(1);
  });

  it('waits through approval by long-polling and returns the approval metadata', async () => {
    const pending: string[] = [];
    const r = await client().execute({
      connector: 'okta',
      operation: 'users:deactivate',
      params: { id: 'act_ok' },
      onPending: (p) => pending.push(p.approvalId),
    });
    expect(r.approvalMetadata).toMatchObject({
      approval_id: 'apr_1',
      approver: 'manager@example.com',
      reason: 'Verified with HRIS',
    });
    expect(pending).toEqual(['apr_x']);
    expect(fake.polls.act_ok).toBe(3);
  });

  it('throws typed errors: ActionDenied (policy, approver), ApprovalExpired, ActionFailed, ArxSdkError', async () => {
    const c = client();
    await expect(c.execute({ connector: 'okta', operation: 'users:delete', params: {} })).rejects.toMatchObject({
      name: 'ActionDenied',
      by: 'policy',
    });
    await expect(
      c.execute({ connector: 'okta', operation: 'users:deactivate', params: { id: 'act_rej' } }),
    ).rejects.toMatchObject({ name: 'ActionDenied', by: 'approver' });
    const exp = await c
      .execute({ connector: 'okta', operation: 'users:deactivate', params: { id: 'act_exp' } })
      .catch((e: unknown) => e);
    expect(exp).toBeInstanceOf(ApprovalExpired);
    expect((exp as ApprovalExpired).approvalId).toBe('apr_2');
    const failed = await c
      .execute({ connector: 'okta', operation: 'users:suspend', params: {} })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ActionFailed);
    expect(failed).toMatchObject({ code: 'okta_503', retryable: true });
    const bad = await c.execute({ connector: 'okta', operation: 'users:nuke', params: {} }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ArxSdkError);
    expect(bad).not.toBeInstanceOf(ActionDenied);
    expect((bad as ArxSdkError).status).toBe(400);
  });

  it('refreshes the SVID before it expires and once after a 401', async () => {
    fake.expiresIn.value = 30; // inside the 60 s refresh skew: every call renews
    const c = client();
    const before = fake.issued.length;
    const grantsBefore = fake.grants.length;
    for (let i = 0; i < 3; i++) await c.execute({ connector: 'okta', operation: 'users:read', params: {} });
    expect(fake.issued.length - before).toBe(3);
    // The bootstrap token once, then the refresh token each answer carried (never the bootstrap again).
    expect(fake.grants.slice(grantsBefore)).toEqual([
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'refresh_token',
      'refresh_token',
    ]);
    fake.expiresIn.value = 3600;
    const c2 = new ArxClient({ apiUrl: srv.url, svid: 'h.forged.s', bootstrapToken: 'boot' });
    await expect(c2.execute({ connector: 'okta', operation: 'users:read', params: {} })).resolves.toMatchObject({
      status: 'executed',
    });
  });

  it('governTool wraps an async tool so it runs only through ARX', async () => {
    const c = client();
    const tool = governTool(async (input: { filter: string }, action) => ({ input, got: action.result }), {
      client: c,
      connector: 'okta',
      operation: 'users:read',
    });
    expect(await tool({ filter: 'status eq "ACTIVE"' })).toEqual({
      input: { filter: 'status eq "ACTIVE"' },
      got: { users: [{ filter: 'status eq "ACTIVE"' }] },
    });
    const denied = c.governTool(async () => 'never', { connector: 'okta', operation: 'users:delete' });
    await expect(denied({})).rejects.toBeInstanceOf(ActionDenied);
  });

  it('refuses to start without credentials', () => {
    expect(() => new ArxClient({ apiUrl: srv.url })).toThrow(ArxSdkError);
  });
});
