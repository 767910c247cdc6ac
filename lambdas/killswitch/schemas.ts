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
