import { z } from 'zod';
import { REGISTRY_NAME } from './core/credential-registry.js';
import { AgentIdentitySchema, Timestamp } from '../shared/responses.js';

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

export const LeaverBody = z.strictObject({
  oidc_sub: z.string().min(1).max(256),
  reason: z.string().min(1).max(512).optional(),
});
export type LeaverBody = z.infer<typeof LeaverBody>;

/**
 * RFC 8693 token request (form-encoded; parsed by the handler so errors follow RFC 6749 §5.2).
 * Not strict on purpose: RFC 6749 §3.2 says unrecognised parameters MUST be ignored.
 */
export const TokenRequestForm = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('urn:ietf:params:oauth:grant-type:token-exchange'),
    subject_token: z.string(),
    subject_token_type: z.enum(['urn:arx:params:oauth:token-type:bootstrap', 'urn:ietf:params:oauth:token-type:jwt']),
    audience: z.string().optional(),
    resource: z.string().optional(),
    scope: z.string().optional(),
    requested_token_type: z.literal('urn:ietf:params:oauth:token-type:jwt').optional(),
    client_id: z.string().optional(),
  }),
  /** RFC 6749 §6: a refresh token from the bootstrap exchange or the previous refresh (single use). */
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string(),
    scope: z.string().optional(),
    audience: z.string().optional(),
    resource: z.string().optional(),
    client_id: z.string().optional(),
  }),
]);

const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,128}$/, 'an IAM role ARN');

/** `PUT /v1/credentials/roles/{name}`: a role this tenant's agents may get sessions of (F1). */
export const PutCredentialRoleBody = z.strictObject({
  role_arn: roleArn,
  description: z.string().min(1).max(256).optional(),
});
export type PutCredentialRoleBody = z.infer<typeof PutCredentialRoleBody>;

/** `PUT /v1/credentials/token-endpoints/{name}`: an OAuth authorization server this tenant allows (F12b). */
export const PutTokenEndpointBody = z.strictObject({
  token_endpoint: z.url().max(2048),
  /** RFC 7009 revocation endpoint; tokens issued through an endpoint without one can only expire. */
  revocation_endpoint: z.url().max(2048).optional(),
});
export type PutTokenEndpointBody = z.infer<typeof PutTokenEndpointBody>;

/**
 * `POST /v1/credentials/issue`. AWS: the scope (IAM actions and resources) is derived from the
 * permitted action `action_id` of this agent, and the role is a name from the tenant's registry
 * (`default` when omitted); role ARNs, external ids, actions and resources are not accepted from
 * the caller (F1). OAuth: the token endpoint must be on the tenant's allowlist and the client
 * secret must live under `arx/<tenant>/oauth/` (F12b).
 */
export const IssueCredentialBody = z.strictObject({
  agent_id: z.string().regex(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/),
  /** Id of the permitted action this credential is for (required for aws targets). */
  action_id: z.string().min(1).max(128).optional(),
  target: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('aws'),
      role: z.string().regex(REGISTRY_NAME).optional(),
    }),
    z.strictObject({
      kind: z.literal('oauth'),
      token_endpoint: z.url().max(2048),
      client_id: z.string().min(1).max(256),
      /** Secrets Manager id of the client secret (`{client_secret}` JSON or plain), `arx/<tenant>/oauth/…`. */
      client_secret_id: z.string().min(1).max(2048),
      resource: z.url().max(2048),
      scope: z
        .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/))
        .max(64)
        .optional(),
    }),
  ]),
});
export type IssueCredentialBody = z.infer<typeof IssueCredentialBody>;

export const RevokeCredentialsBody = z.strictObject({ agent_id: z.string().regex(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/) });
export type RevokeCredentialsBody = z.infer<typeof RevokeCredentialsBody>;

// ---------------------------------------------------------------- responses

/** 201 of `POST /v1/identity/agents`: the identity and its bootstrap token (shown once). */
export const RegisteredAgent = AgentIdentitySchema.extend({ bootstrap_token: z.string() }).meta({
  id: 'RegisteredAgent',
});
export const RotatedAgent = z.object({
  agent_id: z.string(),
  spiffe_id: z.string(),
  credential_generation: z.number().int(),
  last_rotated_at: Timestamp,
  /** Shown once; stored only hashed. */
  bootstrap_token: z.string(),
});
export const LeaverOutcome = z.object({ oidc_sub: z.string(), orphaned: z.array(z.string()) });
export const KeyRotation = z.object({
  tenant_id: z.string(),
  kid: z.string(),
  previous_kid: z.string().nullable(),
  previous_retire_after: Timestamp.nullable(),
});
/** RFC 8693 §2.2.1 token response. */
export const TokenResponse = z
  .object({
    access_token: z.string(),
    issued_token_type: z.literal('urn:ietf:params:oauth:token-type:jwt'),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    scope: z.string().optional(),
    /** Single use; spend it with grant_type=refresh_token before the SVID expires (never log it). */
    refresh_token: z.string().optional(),
  })
  .meta({ id: 'TokenResponse' });
/** RFC 6749 §5.2 error response of the token endpoint. */
export const OAuthErrorBody = z
  .object({
    error: z.enum([
      'invalid_request',
      'invalid_client',
      'invalid_grant',
      'unsupported_grant_type',
      'invalid_scope',
      'invalid_target',
      'temporarily_unavailable',
    ]),
    error_description: z.string(),
  })
  .meta({ id: 'OAuthError' });
export const IssuedCredential = z.object({
  /** The credential itself; its members depend on the target (AWS session credentials, an OAuth token). */
  token: z.record(z.string(), z.unknown()),
  expires_at: Timestamp,
  audience: z.string(),
  scope_actually_granted: z.unknown(),
  cached: z.boolean(),
});
export const CredentialRevocation = z.object({
  cache_evicted: z.number().int(),
  bindings_revoked: z.number().int(),
  sessions_denied_roles: z.number().int(),
  oauth_tokens_revoked: z.number().int(),
  oauth_tokens_unrevocable: z.number().int(),
  refresh_tokens_revoked: z.number().int(),
});
export const CredentialRole = z
  .object({
    name: z.string(),
    role_arn: z.string(),
    description: z.string().optional(),
    /** Put this in the role's trust policy (sts:ExternalId). */
    external_id: z.string(),
    updated_at: Timestamp,
    updated_by: z.string(),
  })
  .meta({ id: 'CredentialRole' });
export const TokenEndpoint = z
  .object({
    name: z.string(),
    token_endpoint: z.string(),
    revocation_endpoint: z.string().optional(),
    updated_at: Timestamp,
    updated_by: z.string(),
  })
  .meta({ id: 'TokenEndpoint' });
