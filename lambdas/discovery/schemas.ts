import { z } from 'zod';
import { DISCOVERY_SOURCES } from './core/discovered.js';
import { AgentIdentitySchema, Timestamp } from '../shared/responses.js';

import { AGENT_STATUSES } from '../shared/ports.js';

export { AGENT_STATUSES, type AgentStatus } from '../shared/ports.js';

const platform = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/**
 * `GET /v1/discovery/agents`: registered agents (sanctioned) and discovered ones in one listing.
 * `status`/`cohort` are attributes of ARX identities only: given, they list registered agents only.
 */
export const ListAgentsQuery = z.strictObject({
  platform: z.string().min(1).max(64).optional(),
  status: z.enum(AGENT_STATUSES).optional(),
  owner: z.string().min(1).max(256).optional(),
  cohort: z.string().min(1).max(128).optional(),
  source: z.enum([...DISCOVERY_SOURCES, 'registration']).optional(),
  sanctioned: z.enum(['true', 'false']).optional(),
  q: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  next_token: z.string().min(1).max(4096).optional(),
});
export type ListAgentsQuery = z.infer<typeof ListAgentsQuery>;

const region = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region such as us-east-1');
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN');

/** `POST /v1/discovery/sources`: an AWS account to scan (own account without `role_arn`), or a push source. */
export const CreateSourceBody = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('aws_account'),
    config: z.strictObject({ role_arn: roleArn.optional(), regions: z.array(region).min(1).max(20) }),
  }),
  z.strictObject({ type: z.literal('push'), config: z.strictObject({ platform }) }),
]);
export type CreateSourceBody = z.infer<typeof CreateSourceBody>;

export const ScanBody = z.strictObject({
  source_id: z
    .string()
    .regex(/^src_[0-9A-Za-z]{1,64}$/)
    .optional(),
});
export type ScanBody = z.infer<typeof ScanBody>;

export const AdoptBody = z.strictObject({
  owner: z.strictObject({
    oidc_sub: z.string().min(1).max(256),
    email: z.email().max(320).optional(),
    team: z.string().min(1).max(128).optional(),
  }),
});
export type AdoptBody = z.infer<typeof AdoptBody>;

/**
 * `POST /v1/discovery/ingest` (admin) and `POST /v1/discovery/sources/{id}/ingest` (the source's
 * token): the generic push schema. Each item is evidence about one agent of a platform; the
 * default `source` is `list_api` (the platform says the agent exists) and the default confidence
 * 1 for `list_api`, 0.6 otherwise. Environment values, prompts or payloads do not belong here.
 */
export const IngestAgent = z.strictObject({
  platform: platform.optional(),
  platform_native_id: z.string().min(1).max(512),
  source: z.enum(DISCOVERY_SOURCES).optional(),
  name: z.string().min(1).max(256).optional(),
  owner: z
    .strictObject({
      oidc_sub: z.string().min(1).max(256).optional(),
      email: z.email().max(320).optional(),
      team: z.string().min(1).max(128).optional(),
    })
    .optional(),
  declared_capabilities: z.array(z.string().min(1).max(256)).max(50).optional(),
  principal_arns: z
    .array(z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/-]{1,512}$/))
    .max(10)
    .optional(),
  observed_actions: z.number().int().min(0).max(1_000_000).optional(),
  observed_at: z.iso.datetime({ offset: true }).optional(),
  confidence: z.number().min(0).max(1).optional(),
  deleted: z.boolean().optional(),
});
export const IngestBody = z.strictObject({ agents: z.array(IngestAgent).min(1).max(500) });
export type IngestBody = z.infer<typeof IngestBody>;

// ---------------------------------------------------------------- responses

const SourceEvidence = z.object({
  source: z.enum(DISCOVERY_SOURCES),
  origin: z.string(),
  confidence: z.number(),
  first_seen: Timestamp,
  last_seen: Timestamp,
  signals: z.array(z.string()),
});
const DiscoveredOwner = z.object({
  oidc_sub: z.string().optional(),
  email: z.string().optional(),
  team: z.string().optional(),
});

/** Seed C1.1 DiscoveredAgent: one version of its SCD-2 history. */
export const DiscoveredAgent = z
  .object({
    id: z.string(),
    platform: z.string(),
    platform_native_id: z.string(),
    name: z.string().optional(),
    owner: z.union([DiscoveredOwner, z.literal('unknown')]),
    declared_capabilities: z.array(z.string()),
    principal_arns: z.array(z.string()),
    observed_actions_30d: z.number(),
    first_seen: Timestamp,
    last_seen: Timestamp,
    source: z.enum(DISCOVERY_SOURCES),
    sources: z.array(SourceEvidence),
    confidence: z.number(),
    sanctioned: z.boolean(),
    arx_agent_id: z.string().optional(),
    state: z.enum(['present', 'deleted']),
    version: z.number().int(),
    valid_from: Timestamp,
    valid_to: Timestamp.optional(),
    changed_by: z.string(),
    change_reason: z.string(),
  })
  .meta({ id: 'DiscoveredAgent' });

/** One entry of `GET /v1/discovery/agents`: an ARX identity (sanctioned) or a discovered agent. */
export const InventoryEntry = z
  .discriminatedUnion('kind', [
    AgentIdentitySchema.extend({
      kind: z.literal('registered'),
      sanctioned: z.literal(true),
      source: z.literal('registration'),
    }),
    DiscoveredAgent.extend({ kind: z.literal('discovered') }),
  ])
  .meta({ id: 'InventoryEntry' });

export const AdoptedAgent = z.object({
  agent_id: z.string(),
  spiffe_id: z.string(),
  status: z.string(),
  bootstrap_token: z.string(),
  discovered_id: z.string(),
});

export const DiscoverySourceView = z
  .object({
    source_id: z.string(),
    type: z.enum(['aws_account', 'push']),
    account_id: z.string().optional(),
    role_arn: z.string().optional(),
    regions: z.array(z.string()),
    platform: z.string().optional(),
    created_at: Timestamp,
    created_by: z.string(),
  })
  .meta({ id: 'DiscoverySource' });
/** 201 of `POST /v1/discovery/sources`: a push source's ingest token is shown once. */
export const CreatedSource = DiscoverySourceView.extend({ ingest_token: z.string().optional() });

export const ScanQueued = z.object({ scan_id: z.string(), status: z.literal('queued') });
export const ScanRecord = z
  .object({
    scan_id: z.string(),
    source_id: z.string().optional(),
    status: z.enum(['queued', 'running', 'succeeded', 'partial', 'failed']),
    found: z.number().int(),
    new: z.number().int(),
    changed: z.number().int(),
    errors: z.array(z.string()),
    requested_at: Timestamp,
    requested_by: z.string(),
    started_at: Timestamp.optional(),
    finished_at: Timestamp.optional(),
  })
  .meta({ id: 'ScanRecord' });

export const DiscoveryStatus = z.object({
  sources: z.array(
    z.object({
      source_id: z.string(),
      type: z.enum(['aws_account', 'push']),
      account_id: z.string().optional(),
      last_attempt_at: Timestamp.nullable(),
      last_success_at: Timestamp.nullable(),
      lag_seconds: z.number().nullable(),
      errors: z.array(z.string()),
    }),
  ),
  cloudtrail: z.object({
    last_event_at: Timestamp.nullable(),
    last_event_lag_ms: z.number().nullable(),
    events_total: z.number().int(),
    seconds_since_last_event: z.number().nullable(),
  }),
});

/**
 * `POST /v1/discovery/handshakes` (an agent, from `arx mcp-gateway`): the `initialize` request an MCP
 * client sent the gateway, as it arrived, and the connector the gateway fronts.
 */
export const HandshakeBody = z.strictObject({
  connector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a connector name'),
  initialize: z.object({ jsonrpc: z.literal('2.0').optional(), method: z.literal('initialize'), params: z.unknown() }),
});
export type HandshakeBody = z.infer<typeof HandshakeBody>;

export const IngestOutcome = z.object({
  found: z.number().int(),
  new: z.number().int(),
  changed: z.number().int(),
  ids: z.array(z.string()),
});
