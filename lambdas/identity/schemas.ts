import { z } from 'zod';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

export const Owner = z.strictObject({
  oidc_sub: z.string().min(1).max(256),
  email: z.email().max(320).optional(),
  team: z.string().min(1).max(128).optional(),
});
export type Owner = z.infer<typeof Owner>;

export const RegisterAgentBody = z.strictObject({
  platform: slug,
  platform_native_id: z.string().min(1).max(512),
  name: z.string().min(1).max(256).optional(),
  owner: Owner,
  cohort: z.string().min(1).max(128).optional(),
});
export type RegisterAgentBody = z.infer<typeof RegisterAgentBody>;
