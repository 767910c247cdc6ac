import { z } from 'zod';
import { DecisionSchema } from '../shared/responses.js';

const MAX_TEXT = 200_000;

export const PushBundleBody = z.discriminatedUnion('format', [
  z.strictObject({
    format: z.literal('cedar'),
    schema: z.string().min(1).max(MAX_TEXT),
    policies: z.string().min(1).max(MAX_TEXT),
    entities: z.array(z.record(z.string(), z.unknown())).max(20_000).optional(),
  }),
  z.strictObject({ format: z.literal('yaml'), document: z.string().min(1).max(MAX_TEXT) }),
]);

const EntityRefZ = z.strictObject({ type: z.string().min(1).max(200), id: z.string().min(1).max(512) });

export const EvaluateBody = z.strictObject({
  principal: z.strictObject({ type: z.literal('Agent'), id: z.string().min(1).max(200) }),
  action: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*:[A-Za-z0-9_:*-]+$/, 'connector:resource:verb')
    .max(200),
  resource: EntityRefZ.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});

export const EnforcementEventZ = z.strictObject({
  event_id: z.string().min(1).max(100).optional(),
  agent_id: z.string().min(1).max(200),
  action_id: z.string().max(200).optional(),
  principal_spiffe_id: z.string().max(500).optional(),
  action_name: z.string().min(1).max(200),
  target: z.string().max(500).optional(),
  context_hash: z.string().max(200),
  decision: z.enum(['permit', 'forbid']),
  decision_ms: z.number().nonnegative(),
  pep_topology: z.enum([
    'sdk',
    'mcp-gateway',
    'sidecar',
    'platform-hook',
    'egress-proxy',
    'lambda-extension',
    'in-process',
    'remote',
  ]),
  pep_version: z.string().min(1).max(100),
  occurred_at: z.iso.datetime(),
  bundle_version: z.string().max(50).nullable().optional(),
  correlation_id: z.string().max(200).optional(),
  trace_id: z.string().max(200).optional(),
});

export const EnforcementLogBody = z.strictObject({ events: z.array(EnforcementEventZ).min(1).max(500) });

export type PushBundleInput = z.infer<typeof PushBundleBody>;
export type EvaluateInput = z.infer<typeof EvaluateBody>;
export type EnforcementLogInput = z.infer<typeof EnforcementLogBody>;

// ---------------------------------------------------------------- responses

export const PushedBundle = z.object({
  bundle_id: z.string(),
  version: z.number().int(),
  digest: z.string(),
  warnings: z.array(z.string()).optional(),
});
export const PromotedBundle = z.object({ live_bundle_id: z.string(), version: z.number().int() });
const BundleRef = z.object({ bundle_id: z.string(), version: z.number().int() });
export const BundleDiff = z
  .object({
    from: BundleRef,
    to: BundleRef,
    added: z.array(z.object({ id: z.string(), effect: z.string(), text: z.string() })),
    removed: z.array(z.object({ id: z.string(), effect: z.string(), text: z.string() })),
    changed: z.array(z.object({ id: z.string(), before: z.string(), after: z.string() })),
    unchanged: z.number().int(),
    schema_changed: z.boolean(),
    entities_changed: z.boolean(),
    risk_changed: z.boolean(),
  })
  .meta({ id: 'BundleDiff' });
/** `POST /v1/policies/evaluate`: the decision, with where to hold a `hitl` action and why a request was refused early. */
export const Evaluation = DecisionSchema.extend({
  hitl: z
    .object({ channel: z.string().optional(), timeout_seconds: z.number(), separation_of_duties: z.boolean() })
    .optional(),
  /** Stable code of a refusal before policy evaluation, e.g. `principal_unknown`. */
  reason: z.string().optional(),
  /** The YAML policies' budgets that govern a permitted action (POST /v1/actions reserves its price against each). */
  budgets: z
    .array(
      z.object({
        policy: z.string(),
        period: z.enum(['day', 'month']),
        usd: z.number(),
        over: z.enum(['forbid', 'hitl']),
        hitl: z
          .object({ channel: z.string().optional(), timeout_seconds: z.number(), separation_of_duties: z.boolean() })
          .optional(),
      }),
    )
    .optional(),
});
export const EnforcementAccepted = z.object({ accepted: z.number().int(), event_ids: z.array(z.string()) });

// ---------------------------------------------------------------- bundle listing

/** `GET /v1/policies/bundles`: the tenant's bundles, newest version first. */
export const ListBundlesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  next_token: z.string().min(1).max(4096).optional(),
});
export type ListBundlesQuery = z.infer<typeof ListBundlesQuery>;

export const BundleSummary = z
  .object({
    bundle_id: z.string(),
    version: z.number().int(),
    digest: z.string(),
    /** `live`: the tenant's live pointer names it; `previous`: it was live before; `draft`: never live. */
    status: z.enum(['draft', 'live', 'previous']),
    source_format: z.enum(['cedar', 'yaml']),
    policy_count: z.number().int(),
    created_at: z.string(),
    created_by: z.string(),
    last_promoted_at: z.string().optional(),
    last_promoted_by: z.string().optional(),
  })
  .meta({ id: 'BundleSummary' });
export const BundleList = z.object({
  items: z.array(BundleSummary),
  live: z
    .object({ bundle_id: z.string(), version: z.number().int(), promoted_at: z.string(), promoted_by: z.string() })
    .nullable(),
  next_token: z.string().optional(),
});

/** `GET /v1/policies/recommendations` query. */
export const RecommendationsQuery = z.strictObject({
  min_approvals: z.coerce
    .number({ error: 'min_approvals must be a whole number from 1 to 1000' })
    .int('min_approvals must be a whole number from 1 to 1000')
    .min(1, 'min_approvals must be at least 1')
    .max(1000, 'min_approvals must be at most 1000'),
  window: z
    .string()
    .regex(/^\d{1,4}[dh]$/, 'window must be a duration such as 30d or 12h')
    .default('30d'),
});
export type RecommendationsQuery = z.infer<typeof RecommendationsQuery>;

const Mode = z.enum(['none', 'auto', 'hitl']);
export const RecommendationView = z.object({
  recommendation_id: z.string(),
  kind: z.enum(['lower', 'raise']),
  policy: z.string(),
  operation: z.string(),
  actions: z.array(z.string()),
  from: Mode,
  to: Mode,
  bundle_id: z.string(),
  bundle_version: z.number().int(),
  evidence: z.object({
    window: z.string(),
    since: z.string(),
    approvals: z.number().int(),
    denials: z.number().int(),
    expired: z.number().int(),
    edited: z.number().int(),
    approvers: z.array(z.string()),
    agents: z.number().int(),
    drifting_agents: z.array(z.string()),
    time_to_decision_s: z.object({ median: z.number().nullable(), max: z.number().nullable() }),
    first_at: z.string().nullable(),
    last_at: z.string().nullable(),
  }),
  reason: z.string(),
  created_at: z.string(),
});
export const RecommendationList = z.object({ items: z.array(RecommendationView) });
export const AppliedRecommendation = z.object({
  bundle_id: z.string(),
  version: z.number().int(),
  digest: z.string(),
  promoted: z.literal(false),
  recommendation: RecommendationView,
});
