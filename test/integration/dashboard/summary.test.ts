/**
 * GET /v1/dashboard/summary on the provisioned stack: known approvals (actions' store), audit
 * events (recorded through the audit sink at known times) and priced spans (the traces table),
 * with one tenant's data beside another's and outside the window; exact numbers expected.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { provisionTestStack } from '../../support/stack.js';
import { apiEvent } from '../../support/api-event.js';
import { ManualClock } from '../../support/clock.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import type { ActionRecord, ApprovalRecord } from '../../../lambdas/actions/core/model.js';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import type { SpanRecord } from '../../../lambdas/observability/core/model.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 300_000 });

const DAY = 86_400_000;
const H = 3_600_000;
const ctx = { functionName: 'dashboard-api', awsRequestId: 'r', getRemainingTimeInMillis: () => 20_000 } as Context;

// Three UTC days ago at midnight: the window is that day and the next.
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const at = (ms: number) => new Date(D0 + ms).toISOString();
const FROM = at(0);
const TO = at(2 * DAY);
const day0 = FROM.slice(0, 10);
const day1 = at(DAY).slice(0, 10);

const tenant = `dash-${randomUUID().slice(0, 8)}`;
const other = `${tenant}-other`;
const auditor: AuthContext = { tenantId: tenant, subject: 'audrey', roles: ['auditor'], principalType: 'human' };
const admin: AuthContext = { ...auditor, subject: 'alice', roles: ['admin'] };
const approverOnly: AuthContext = { ...auditor, subject: 'bob', roles: ['approver'] };

let handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>;
const summary = async (who: AuthContext, query: Record<string, string> | undefined) => {
  const r = (await handler(
    apiEvent({ method: 'GET', route: '/v1/dashboard/summary', auth: who, ...(query ? { query } : {}) }),
    ctx,
  )) as { statusCode: number; body: string };
  return { status: r.statusCode, body: JSON.parse(r.body) };
};

function approval(
  t: string,
  n: string,
  o: { policy: string; status: ApprovalRecord['status']; created: number; decided?: number; by?: string },
) {
  const created_at = at(o.created);
  const action = {
    action_id: `act_${n}`,
    tenant_id: t,
    agent_id: 'agt_a',
    connector: 'okta',
    operation: 'users:deactivate',
    action: 'okta:users:deactivate',
    params: { user_id: n },
    binding_hash: `h${n}`,
    status: 'pending_approval',
    decision: {
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      policy: o.policy,
      determining_policies: [],
      errors: [],
      bundle_version: '1',
      evaluation_ms: 1,
    },
    correlation_id: `c${n}`,
    trace_id: '1'.repeat(32),
    traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
    attempts: 0,
    created_at,
    updated_at: created_at,
  } as unknown as ActionRecord;
  const a: ApprovalRecord = {
    approval_id: `apr_${n}`,
    action_id: `act_${n}`,
    tenant_id: t,
    agent_id: 'agt_a',
    connector: 'okta',
    operation: 'users:deactivate',
    action: 'okta:users:deactivate',
    params: { user_id: n },
    binding_hash: `h${n}`,
    status: o.status,
    risk: 'high',
    policy: o.policy,
    separation_of_duties: false,
    correlation_id: `c${n}`,
    trace_id: '1'.repeat(32),
    created_at,
    expires_at: at(o.created + H),
    ...(o.decided !== undefined ? { decided_at: at(o.created + o.decided), decided_by: o.by! } : {}),
  } as ApprovalRecord;
  return [action, a] as const;
}

function span(t: string, n: string, agent: string | null, start: number, usd: number): SpanRecord {
  return {
    tenant_id: t,
    trace_id: n.padStart(32, '0'),
    span_id: n.padStart(16, '0'),
    parent_span_id: null,
    name: 'chat',
    kind: 3,
    start_ns: `${(D0 + start) * 1e6}`,
    end_ns: `${(D0 + start + 1000) * 1e6}`,
    start_time: at(start),
    duration_ms: 1000,
    source: 'otlp',
    agent_id: agent,
    operation: 'chat',
    provider: 'anthropic',
    model: 'claude-sonnet-4',
    tool_name: null,
    usage: { input: 10, output: 5 },
    cost_usd: usd,
    priced_as: 'claude-sonnet-4',
    status: { code: 0, message: '' },
    attributes: {},
    events: [],
    resource: {},
    scope: { name: 'test', version: '1' },
    content_ref: null,
    ingested_at: new Date().toISOString(),
  } as SpanRecord;
}

beforeAll(async () => {
  const { env } = await provisionTestStack();
  Object.assign(process.env, env);
  const store = new DynamoActionStore(env.ARX_CONTROL_TABLE!);
  const approvals = [
    approval(tenant, '1', {
      policy: 'okta-access-review',
      status: 'approved',
      created: H,
      decided: 60_000,
      by: 'manager@example.com',
    }),
    approval(tenant, '2', {
      policy: 'okta-access-review',
      status: 'approved',
      created: 2 * H,
      decided: 120_000,
      by: 'manager@example.com',
    }),
    approval(tenant, '3', {
      policy: 'okta-access-review',
      status: 'denied',
      created: 3 * H,
      decided: 30_000,
      by: 'sec@example.com',
    }),
    approval(tenant, '4', { policy: 'aws-admin', status: 'expired', created: DAY + H }),
    approval(tenant, '5', { policy: 'aws-admin', status: 'pending', created: DAY + 2 * H }),
    // outside the window: an hour before it, and at its (exclusive) end
    approval(tenant, '6', {
      policy: 'okta-access-review',
      status: 'approved',
      created: -H,
      decided: 1000,
      by: 'early@example.com',
    }),
    approval(tenant, '7', {
      policy: 'okta-access-review',
      status: 'denied',
      created: 2 * DAY,
      decided: 1000,
      by: 'late@example.com',
    }),
    // another tenant's, inside the window
    approval(other, '8', {
      policy: 'okta-access-review',
      status: 'denied',
      created: H,
      decided: 1000,
      by: 'mallory@example.com',
    }),
  ];
  for (const [action, a] of approvals) await store.create(action, a);

  const clock = new ManualClock();
  const sink = createAuditSink({ clock });
  const record = async (t: string, when: number, event_type: string, agent: string, decision?: string) => {
    clock.set(at(when));
    await sink.record({
      tenant_id: t,
      event_type,
      agent_id: agent,
      action: event_type === 'agent.terminated' ? 'killswitch:terminate' : 'okta:users:read',
      ...(decision ? { decision } : {}),
      occurred_at: at(when),
      correlation_id: `c-${when}`,
      trace_id: '3'.repeat(32),
      payload: { n: when },
    });
  };
  await record(tenant, -30 * 60_000, 'operation.executed', 'agt_a'); // before the window
  await record(tenant, H, 'operation.executed', 'agt_a');
  await record(tenant, H + 1, 'policy.decision', 'agt_a', 'permit');
  await record(tenant, 2 * H, 'operation.executed', 'agt_a');
  await record(tenant, 2 * H + 1, 'policy.decision', 'agt_a', 'forbid');
  await record(tenant, 3 * H, 'decision.denied', 'agt_a', 'denied');
  await record(tenant, 4 * H, 'operation.executed', 'agt_b');
  await record(tenant, 4 * H + 1, 'policy.decision', 'agt_b', 'forbid');
  await record(other, 4 * H + 2, 'policy.decision', 'agt_x', 'forbid'); // another tenant
  await record(tenant, DAY + H, 'operation.executed', 'agt_a');
  await record(tenant, DAY + H + 1, 'policy.decision', 'agt_a', 'permit');
  await record(tenant, DAY + 3 * H, 'policy.decision', 'agt_b', 'forbid');
  await record(tenant, DAY + 5 * H, 'agent.terminated', 'agt_b', 'terminated');
  await record(tenant, 2 * DAY + 60_000, 'agent.terminated', 'agt_a', 'terminated'); // after the window

  await new DynamoSpanStore(env.ARX_TRACES_TABLE!).putSpans([
    span(tenant, 'a1', 'agt_a', H, 0.01),
    span(tenant, 'a2', 'agt_a', 5 * H, 0.02),
    span(tenant, 'a3', 'agt_a', DAY + H, 0.005),
    span(tenant, 'b1', 'agt_b', 6 * H, 0.1),
    span(tenant, 'u1', null, DAY + 2 * H, 0.001),
    span(tenant, 'e1', 'agt_a', -H, 5), // before the window
    span(tenant, 'e2', 'agt_a', 2 * DAY, 7), // at its end
    span(other, 'x1', 'agt_x', H, 3), // another tenant
  ]);
  ({ handler } = (await import('../../../lambdas/dashboard/handlers/api.js')) as never);
});

describe('GET /v1/dashboard/summary', () => {
  it('computes approvals, per-agent actions and denials, cost per agent per day and terminations over the window', async () => {
    const r = await summary(auditor, { from: FROM, to: TO });
    expect(r.status).toBe(200);
    const s = r.body;
    expect(s).toMatchObject({ from: FROM, to: TO, days: [day0, day1] });
    expect(s.approvals).toMatchObject({
      total: 5,
      approved: 2,
      denied: 1,
      expired: 1,
      pending: 1,
      cancelled: 0,
      approval_rate: 0.5,
      denial_rate: 0.25,
      time_to_decision: { count: 3, p50_ms: 60_000, p95_ms: 120_000, p50: '1 min', p95: '2 min' },
    });
    expect(Object.keys(s.approvals.by_policy)).toEqual(['aws-admin', 'okta-access-review']);
    expect(s.approvals.by_policy['okta-access-review']).toMatchObject({
      total: 3,
      approved: 2,
      denied: 1,
      approval_rate: 0.667,
      denial_rate: 0.333,
      time_to_decision: { count: 3, p50_ms: 60_000, p95_ms: 120_000 },
    });
    expect(s.approvals.by_policy['aws-admin']).toMatchObject({
      total: 2,
      expired: 1,
      pending: 1,
      approval_rate: 0,
      denial_rate: 0,
      time_to_decision: { count: 0, p50_ms: null, p95_ms: null },
    });
    expect(Object.keys(s.approvals.by_approver)).toEqual(['manager@example.com', 'sec@example.com']);
    expect(s.approvals.by_approver['manager@example.com']).toMatchObject({
      approved: 2,
      approval_rate: 1,
      time_to_decision: { count: 2, p50_ms: 60_000, p95_ms: 120_000 },
    });
    expect(s.approvals.by_approver['sec@example.com']).toMatchObject({
      denied: 1,
      denial_rate: 1,
      time_to_decision: { count: 1, p50_ms: 30_000, p95_ms: 30_000 },
    });

    expect(s.agents).toEqual([
      { agent_id: 'agt_a', executed: 3, forbidden: 1, denied_by_approver: 1, denied: 2 },
      { agent_id: 'agt_b', executed: 1, forbidden: 2, denied_by_approver: 0, denied: 2 },
    ]);

    expect(s.cost).toEqual({
      usd: 0.136,
      by_agent: [
        { agent_id: 'agt_b', usd: 0.1 },
        { agent_id: 'agt_a', usd: 0.035 },
        { agent_id: 'unattributed', usd: 0.001 },
      ],
      per_agent_day: [
        { day: day0, agent_id: 'agt_a', usd: 0.03, spans: 2 },
        { day: day0, agent_id: 'agt_b', usd: 0.1, spans: 1 },
        { day: day1, agent_id: 'agt_a', usd: 0.005, spans: 1 },
        { day: day1, agent_id: 'unattributed', usd: 0.001, spans: 1 },
      ],
    });

    expect(s.terminations).toEqual({
      count: 1,
      per_day: [
        { day: day0, count: 0 },
        { day: day1, count: 1 },
      ],
      items: [{ agent_id: 'agt_b', occurred_at: at(DAY + 5 * H), action: 'killswitch:terminate' }],
    });
    expect(s.truncated).toEqual({ approvals: false, audit_events: false });
  });

  it('counts only what the narrower window holds', async () => {
    const r = await summary(admin, { from: at(DAY), to: TO });
    expect(r.status).toBe(200);
    expect(r.body.days).toEqual([day1]);
    expect(r.body.approvals).toMatchObject({ total: 2, expired: 1, pending: 1, approval_rate: 0 });
    expect(r.body.agents).toEqual([
      { agent_id: 'agt_a', executed: 1, forbidden: 0, denied_by_approver: 0, denied: 0 },
      { agent_id: 'agt_b', executed: 0, forbidden: 1, denied_by_approver: 0, denied: 1 },
    ]);
    expect(r.body.cost.usd).toBe(0.006);
  });

  it("shows another tenant none of this tenant's numbers", async () => {
    const r = await summary({ ...auditor, tenantId: other }, { from: FROM, to: TO });
    expect(r.status).toBe(200);
    expect(r.body.approvals).toMatchObject({ total: 1, denied: 1 });
    expect(Object.keys(r.body.approvals.by_approver)).toEqual(['mallory@example.com']);
    expect(r.body.agents).toEqual([{ agent_id: 'agt_x', executed: 0, forbidden: 1, denied_by_approver: 0, denied: 1 }]);
    expect(r.body.cost).toMatchObject({ usd: 3, by_agent: [{ agent_id: 'agt_x', usd: 3 }] });
    expect(r.body.terminations.count).toBe(0);
  });

  it('answers a bad window with 400: from not before to, over 31 days, missing or malformed ends, unknown fields', async () => {
    const bad: (Record<string, string> | undefined)[] = [
      { from: TO, to: FROM },
      { from: FROM, to: FROM },
      { from: at(-30 * DAY), to: at(2 * DAY) },
      { from: FROM },
      { to: TO },
      undefined,
      { from: 'yesterday', to: TO },
      { from: FROM, to: TO, group_by: 'agent' },
      { from: '1969-12-31T00:00:00Z', to: '1970-01-01T12:00:00Z' },
    ];
    for (const q of bad) {
      const r = await summary(auditor, q);
      expect(r.status, JSON.stringify(q)).toBe(400);
      expect(r.body).toMatchObject({ status: 400, title: expect.any(String) });
    }
    const ok = await summary(auditor, { from: at(-29 * DAY), to: at(2 * DAY) }); // exactly 31 days
    expect(ok.status).toBe(200);
  });

  it('admits admins and auditors only', async () => {
    expect((await summary(approverOnly, { from: FROM, to: TO })).status).toBe(403);
  });
});
