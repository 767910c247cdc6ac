import { z } from 'zod';

/** Request and response schemas of the actions capability (governed actions and approvals). */

const name = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, "_" and "-", at most 32');
const operation = z.string().regex(/^[A-Za-z]\w*:[A-Za-z]\w*$|^[A-Za-z]\w*:[A-Za-z]\w*:[A-Za-z]\w*$|^[A-Za-z]\w*:[A-Za-z]\w*:[A-Za-z]\w*:[A-Za-z]\w*$|^[a-z][a-z0-9_]*$/, 'resource:verb, e.g. users:deactivate');
const correlationId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, ".", "_", ":", "-"; at most 128');

export const ExecuteActionBody = z.strictObject({
  connector: name,
  operation,
  params: z.record(z.string(), z.unknown()),
  correlation_id: correlationId.optional(),
  reason: z.string().min(1).max(2000).optional(),
});
export type ExecuteActionBody = z.infer<typeof ExecuteActionBody>;

export const GetActionQuery = z.strictObject({
  wait: z.coerce.number().int().min(0).max(25).optional(),
});

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const ListApprovalsQuery = z.strictObject({
  status: z.enum(APPROVAL_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

export const ApprovalDecisionBody = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  reason: z.string().min(1).max(2000),
});
export type ApprovalDecisionBody = z.infer<typeof ApprovalDecisionBody>;

export const StatsQuery = z.strictObject({
  since: z.iso.datetime().optional(),
});

export const ConnectorConfigBody = z.strictObject({
  config: z.record(z.string(), z.unknown()),
  secret: z.record(z.string(), z.string()).optional(),
});
export type ConnectorConfigBody = z.infer<typeof ConnectorConfigBody>;

export const CHANNELS = ['slack', 'email', 'webhook'] as const;
export type ChannelKind = (typeof CHANNELS)[number];

/** Webhook decision callback (authenticated by the HMAC signature header). */
export const WebhookDecisionBody = z.strictObject({
  approval_id: z.string().min(1).max(64),
  decision: z.enum(['approve', 'deny']),
  approver: z.string().min(1).max(320),
  reason: z.string().min(1).max(2000),
});
