import { z } from 'zod';

const Shifted = z.object({ action: z.string(), recent: z.number(), baseline: z.number() });

/** `GET /v1/agents/{id}/drift`: the agent's drift score, whether it is drifting, and the evidence. */
export const DriftView = z.object({
  agent_id: z.string(),
  score: z.number().min(0).max(1),
  alert: z.boolean(),
  warming_up: z.boolean(),
  driver: z.enum(['mix', 'rate', 'denial', 'cost', 'new_connector', 'new_operation']).nullable(),
  alert_score: z.number(),
  components: z.object({
    mix: z.object({ jsd: z.number(), threshold: z.number(), shifted: z.array(Shifted) }),
    rate: z.object({ z: z.number(), threshold: z.number(), hour_count: z.number(), mean_per_hour: z.number() }),
    denial: z.object({ z: z.number(), threshold: z.number(), recent_rate: z.number(), baseline_rate: z.number() }),
    cost: z.object({ z: z.number(), threshold: z.number(), today_usd: z.number(), mean_day_usd: z.number() }),
    new_connectors: z.array(z.string()),
    new_operations: z.array(z.string()),
  }),
  baseline: z.object({
    decisions: z.number().int(),
    outcomes: z.number().int(),
    hours: z.number().int(),
    days: z.number().int(),
    first_at: z.string().nullable(),
    last_at: z.string().nullable(),
  }),
  method: z.string(),
  updated_at: z.string().nullable(),
});
export type DriftView = z.infer<typeof DriftView>;
