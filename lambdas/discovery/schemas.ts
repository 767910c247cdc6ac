import { z } from 'zod';

export const AGENT_STATUSES = ['active', 'suspended', 'revoked', 'terminated'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const ListAgentsQuery = z.strictObject({
  platform: z.string().min(1).max(64).optional(),
  status: z.enum(AGENT_STATUSES).optional(),
  owner: z.string().min(1).max(256).optional(),
  cohort: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  next_token: z.string().min(1).max(2048).optional(),
});
export type ListAgentsQuery = z.infer<typeof ListAgentsQuery>;
