import { z } from 'zod';

/** `GET /v1/dashboard/summary`: both ends required; from < to, at most 31 days (checked by the core). */
export const SummaryQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
});
export type SummaryQuery = z.infer<typeof SummaryQuery>;

/** The numbers `GET /v1/approvals/stats` answers with (actions computes them), over the window. */
const approvalGroup = {
  total: z.number().int(),
  pending: z.number().int(),
  approved: z.number().int(),
  denied: z.number().int(),
  expired: z.number().int(),
  cancelled: z.number().int(),
  approval_rate: z.number().nullable(),
  denial_rate: z.number().nullable(),
  time_to_decision: z.object({
    count: z.number().int(),
    p50_ms: z.number().nullable(),
    p95_ms: z.number().nullable(),
    p50: z.string().nullable(),
    p95: z.string().nullable(),
  }),
};
const ApprovalWindowStats = z.object({
  ...approvalGroup,
  by_policy: z.record(z.string(), z.object(approvalGroup)),
  by_approver: z.record(z.string(), z.object(approvalGroup)),
});

const Day = z.string().regex(/^\d{4}-\d\d-\d\d$/);

export const DashboardSummary = z
  .object({
    from: z.string(),
    to: z.string(),
    /** The UTC days the window touches, oldest first. */
    days: z.array(Day),
    /** Approvals created in the window: rates, time to decision p50/p95 overall, per policy, per approver. */
    approvals: ApprovalWindowStats,
    /** Per agent: executed actions, policy forbids, approvers' denials (and their sum), most active first. */
    agents: z.array(
      z.object({
        agent_id: z.string(),
        executed: z.number().int(),
        forbidden: z.number().int(),
        denied_by_approver: z.number().int(),
        denied: z.number().int(),
      }),
    ),
    cost: z.object({
      usd: z.number(),
      by_agent: z.array(z.object({ agent_id: z.string(), usd: z.number() })),
      per_agent_day: z.array(z.object({ day: Day, agent_id: z.string(), usd: z.number(), spans: z.number().int() })),
    }),
    terminations: z.object({
      count: z.number().int(),
      per_day: z.array(z.object({ day: Day, count: z.number().int() })),
      items: z.array(z.object({ agent_id: z.string().nullable(), occurred_at: z.string(), action: z.string() })),
    }),
    /** True where a source held more than one summary reads (the numbers then cover what was read). */
    truncated: z.object({ approvals: z.boolean(), audit_events: z.boolean() }),
  })
  .meta({ id: 'DashboardSummary' });
