import { z } from 'zod';

/**
 * Building blocks of the response schemas every route declares (`RouteSpec.response.schema`).
 * The OpenAPI document and the SDK's generated types (`sdk/contract.gen.ts`, written by
 * `npm run gen:contract`) are derived from them. A schema given an `id` (`.meta({ id })`)
 * becomes a named component / type; response schemas list the stable minimum of fields
 * (ARCHITECTURE.md), so an object may carry more than it declares.
 */

/** RFC 9457 problem details: every handler error (`lambdas/shared/errors.ts`). */
export const Problem = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

/** What API Gateway itself answers (no route reached: 401/403 from the authorizer, 404, 413, 429, 5xx). */
export const GatewayError = z.object({ message: z.string() }).meta({ id: 'GatewayError' });

/** Any error body the API answers with. */
export const ErrorBody = z.union([Problem, GatewayError]);

export const Timestamp = z.string().describe('RFC 3339 date-time');

/** `{ items: [...], next_token? }` */
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_token: z.string().optional() });

/** A public JSON Web Key (RFC 7517); the members depend on `kty`. */
export const Jwk = z
  .looseObject({ kty: z.string(), kid: z.string().optional(), alg: z.string().optional(), use: z.string().optional() })
  .meta({ id: 'Jwk' });
export const JwkSet = z.object({ keys: z.array(Jwk) }).meta({ id: 'JwkSet' });

export const RiskLevel = z.enum(['low', 'medium', 'high', 'critical']);
export const ApprovalModeSchema = z.enum(['none', 'auto', 'hitl']);

/** A PDP decision as the API returns it (POST /v1/policies/evaluate, and inside every action). */
export const DecisionSchema = z
  .object({
    effect: z.enum(['permit', 'forbid']),
    approval: ApprovalModeSchema,
    risk: RiskLevel,
    policy: z.string().nullable().optional(),
    determining_policies: z.array(z.string()),
    errors: z.array(z.string()),
    evaluation_ms: z.number(),
    bundle_version: z.string().nullable(),
  })
  .meta({ id: 'Decision' });

/** The owner binding of an ARX agent identity. */
export const OwnerBindingSchema = z.object({
  oidc_sub: z.string(),
  email: z.string().optional(),
  team: z.string().optional(),
  attested_at: Timestamp,
  attestation_method: z.enum(['registration', 'api', 'reattest']),
  /** `orphaned` when the owner left and nobody re-attested. */
  status: z.enum(['live', 'orphaned']),
  orphaned_at: Timestamp.optional(),
});

/** Public view of an ARX agent (seed C2.1 AgentIdentity); read by identity, discovery and the kill switch. */
export const AgentIdentitySchema = z
  .object({
    agent_id: z.string(),
    spiffe_id: z.string(),
    tenant_id: z.string(),
    platform: z.string(),
    platform_native_id: z.string(),
    name: z.string().optional(),
    cohort: z.string().optional(),
    human_owner_oidc_sub: z.string(),
    owner: OwnerBindingSchema,
    status: z.enum(['active', 'suspended', 'revoked', 'terminated']),
    version: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
    last_rotated_at: Timestamp.optional(),
  })
  .meta({ id: 'AgentIdentity' });
