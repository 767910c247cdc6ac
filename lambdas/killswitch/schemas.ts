import { z } from 'zod';

export const TerminateBody = z.strictObject({
  reason: z.string().trim().min(1).max(1000),
});
export type TerminateBody = z.infer<typeof TerminateBody>;

/** Per-tenant generic HTTP kill endpoint for one platform (PUT /v1/killswitch/platforms/{platform}). */
export const KillTargetBody = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  timeout_ms: z.number().int().min(100).max(30_000).optional(),
  /** Non-secret headers only (they are stored in the control table). */
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(512)).optional(),
});
export type KillTargetBody = z.infer<typeof KillTargetBody>;

// ---------------------------------------------------------------- responses

const Timestamp = z.string().describe('RFC 3339 date-time');

export const TerminationStep = z.object({
  name: z.enum(['inventory', 'revocation', 'credentials', 'platform', 'drain', 'audit', 'attestation']),
  status: z.enum(['pending', 'ok', 'failed', 'skipped']),
  attempts: z.number().int(),
  error: z.string().optional(),
  at: Timestamp.optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  /** Per-agent outcomes, by agent id. */
  results: z
    .record(
      z.string(),
      z.looseObject({ outcome: z.string(), ok: z.boolean(), at: Timestamp, error: z.string().optional() }),
    )
    .optional(),
});

/** Seed C6.1 Termination as the API shows it. */
export const Termination = z
  .object({
    termination_id: z.string(),
    scope: z.enum(['agent', 'cohort', 'org']),
    target_id: z.string(),
    agent_ids: z.array(z.string()),
    already_terminating: z.array(z.object({ agent_id: z.string(), termination_id: z.string() })).optional(),
    reason: z.string(),
    initiated_by: z.string(),
    confirmed_by: z.string().optional(),
    initiated_at: Timestamp,
    status: z.enum(['in_flight', 'complete', 'partial_failure']),
    steps: z.array(TerminationStep),
    completed_at: Timestamp.optional(),
    attestation_url: z.string().optional(),
    correlation_id: z.string(),
    /** Set when the target was already terminated (answered 200 with that termination). */
    existing: z.literal(true).optional(),
  })
  .meta({ id: 'Termination' });

/** 202 of the first emergency stop request: a second, different admin must confirm. */
export const QuorumPending = z.object({
  status: z.literal('pending_quorum'),
  request_id: z.string(),
  requested_by: z.string(),
  expires_at: Timestamp,
  detail: z.string(),
});

export const KillTarget = z.object({ platform: z.string(), url: z.string(), timeout_ms: z.number().int().optional() });
