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

export const AssignOwnerBody = z.strictObject({ owner: Owner });
export type AssignOwnerBody = z.infer<typeof AssignOwnerBody>;

/** Optional body of revoke (an empty body is the same as `{}`). */
export const RevokeAgentBody = z.strictObject({ reason: z.string().min(1).max(512).optional() });
export type RevokeAgentBody = z.infer<typeof RevokeAgentBody>;

export const LeaverBody = z.strictObject({ oidc_sub: z.string().min(1).max(256), reason: z.string().min(1).max(512).optional() });
export type LeaverBody = z.infer<typeof LeaverBody>;

/**
 * RFC 8693 token request (form-encoded; parsed by the handler so errors follow RFC 6749 §5.2).
 * Not strict on purpose: RFC 6749 §3.2 says unrecognised parameters MUST be ignored.
 */
export const TokenRequestForm = z.object({
  grant_type: z.literal('urn:ietf:params:oauth:grant-type:token-exchange'),
  subject_token: z.string(),
  subject_token_type: z.enum(['urn:arx:params:oauth:token-type:bootstrap', 'urn:ietf:params:oauth:token-type:jwt']),
  audience: z.string().optional(),
  resource: z.string().optional(),
  scope: z.string().optional(),
  requested_token_type: z.literal('urn:ietf:params:oauth:token-type:jwt').optional(),
  client_id: z.string().optional(),
});

const iamAction = z.string().regex(/^[a-z0-9-]{2,64}:[A-Za-z0-9*]{1,128}$/);
const arn = z.string().regex(/^arn:[^\s]{4,2044}$/);

export const IssueCredentialBody = z.strictObject({
  agent_id: z.string().regex(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/),
  /** Id of the permitted action this credential is for (audit correlation). */
  action_id: z.string().min(1).max(128).optional(),
  target: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('aws'),
      role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,128}$/).optional(),
      actions: z.array(iamAction).min(1).max(20),
      resources: z.array(arn).min(1).max(20),
      external_id: z.string().min(2).max(1224).optional(),
    }),
    z.strictObject({
      kind: z.literal('oauth'),
      token_endpoint: z.url().max(2048),
      client_id: z.string().min(1).max(256),
      /** Secrets Manager id of the client secret (`{client_secret}` JSON or plain). */
      client_secret_id: z.string().min(1).max(2048),
      resource: z.url().max(2048),
      scope: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/)).max(64).optional(),
    }),
  ]),
});
export type IssueCredentialBody = z.infer<typeof IssueCredentialBody>;

export const RevokeCredentialsBody = z.strictObject({ agent_id: z.string().regex(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/) });
export type RevokeCredentialsBody = z.infer<typeof RevokeCredentialsBody>;
