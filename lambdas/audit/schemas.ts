import { z } from 'zod';
import { FRAMEWORKS } from './core/evidence.js';
import { Timestamp } from '../shared/responses.js';

const limit = z.coerce.number().int().min(1).max(200).optional();
const nextToken = z.string().min(1).max(2048).optional();

export const EventsQuery = z.strictObject({
  agent_id: z.string().min(1).max(128).optional(),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_.]{0,127}$/)
    .optional(),
  limit,
  next_token: nextToken,
});
export type EventsQuery = z.infer<typeof EventsQuery>;

export const BlocksQuery = z.strictObject({
  from_height: z.coerce.number().int().min(1).optional(),
  limit,
});
export type BlocksQuery = z.infer<typeof BlocksQuery>;

export const DestinationBody = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
  prefix: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9!_.*'()/-]*$/)
    .default(''),
  role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN'),
  region: z
    .string()
    .regex(/^(?!.*--)[a-z]{2}-[a-z-]*[a-z]-\d$/)
    .optional(),
});
export type DestinationBody = z.infer<typeof DestinationBody>;

const frameworkIds = Object.keys(FRAMEWORKS) as [keyof typeof FRAMEWORKS, ...(keyof typeof FRAMEWORKS)[]];
export const Framework = z.enum(frameworkIds);

export const EvidenceQuery = z.strictObject({ limit, next_token: nextToken });
export type EvidenceQuery = z.infer<typeof EvidenceQuery>;

export const PackageQuery = z.strictObject({
  /** Download one artifact inline: manifest / jsonld as JSON, pdf as base64. */
  artifact: z.enum(['manifest', 'jsonld', 'pdf']).optional(),
});
export type PackageQuery = z.infer<typeof PackageQuery>;

export const PackageBody = z.strictObject({
  framework: Framework,
  /** Controls to include; all controls the mapping knows for the framework when omitted. */
  controls: z.array(z.string().min(1).max(64)).min(1).max(50).optional(),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  /** Computed report lines: "All N <label> in <period> were approved before execution". */
  approval_reports: z
    .array(
      z.strictObject({
        action: z.string().regex(/^[a-z0-9_-]+:[a-z0-9_*-]+:[a-z0-9_*-]+$/),
        label: z.string().min(1).max(80).optional(),
      }),
    )
    .max(10)
    .optional(),
  period_label: z.string().min(1).max(40).optional(),
});
export type PackageBody = z.infer<typeof PackageBody>;

// ---------------------------------------------------------------- responses

const Hex = z.string().describe('hex SHA-256');
const B64 = z.string().describe('base64');

/** An audit event as the chain records it (the payload itself stays encrypted). */
export const AuditEvent = z
  .object({
    event_id: z.string(),
    tenant_id: z.string(),
    event_type: z.string(),
    agent_id: z.string().nullable(),
    principal_spiffe_id: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    decision: z.string().nullable(),
    occurred_at: Timestamp,
    recorded_at: Timestamp,
    redacted_fields: z.array(z.string()),
    hash_of_full_payload: Hex,
    evidence_tags: z.array(z.string()),
    trace_id: z.string(),
    correlation_id: z.string(),
    action_id: z.string().nullable(),
    approval_id: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' });

export const ChainStatus = z.object({
  height: z.number().int(),
  head_hash: Hex.nullable(),
  tree_size: z.number().int(),
  root: B64.nullable(),
  last_sealed_at: Timestamp.nullable(),
  last_anchored_at: Timestamp.nullable(),
  pending_events: z.number().int(),
  unanchored_blocks: z.number().int(),
  anchoring_lag_seconds: z.number(),
  anchoring: z.enum(['tsa_not_configured', 'lagging', 'current']),
});

export const BlockHead = z
  .object({
    format: z.literal('arx.audit.block.v1'),
    tenant_id: z.string(),
    block_id: z.string(),
    height: z.number().int(),
    prev_block_hash: Hex,
    first_index: z.number().int(),
    event_count: z.number().int(),
    tree_size: z.number().int(),
    root: B64,
    prev_tree_size: z.number().int(),
    prev_root: B64,
    consistency_proof: z.array(B64),
    prev_frontier: z.array(B64),
    time_window: z.object({ from: Timestamp, to: Timestamp }),
    sealed_at: Timestamp,
    alg: z.literal('ES256'),
    kid: z.string(),
  })
  .meta({ id: 'BlockHead' });

export const AuditBlock = z
  .object({
    head: BlockHead,
    block_hash: Hex,
    /** base64url R‖S ES256 signature over canonicalJson(head). */
    signature: z.string(),
    events: z.array(AuditEvent),
    timestamp: z.object({ token: B64, tsa_url: z.string(), anchored_at: Timestamp }).nullable(),
  })
  .meta({ id: 'AuditBlock' });

export const EventProof = z.object({
  event_id: z.string(),
  leaf_hash: B64,
  block_id: z.string(),
  leaf_index: z.number().int(),
  tree_size: z.number().int(),
  root: B64,
  proof: z.array(B64),
  block_hash: Hex,
  signature: z.string(),
  kid: z.string(),
  alg: z.literal('ES256'),
  head: BlockHead,
});

export const BlockList = z.object({
  items: z.array(BlockHead.extend({ block_hash: Hex, anchored: z.boolean(), anchored_at: Timestamp.nullable() })),
  next_from_height: z.number().int().optional(),
});

export const Destination = z
  .object({
    destination_id: z.string(),
    tenant_id: z.string(),
    bucket: z.string(),
    prefix: z.string(),
    role_arn: z.string(),
    /** Put this in the role's trust policy (sts:ExternalId). */
    external_id: z.string(),
    region: z.string().optional(),
    created_at: Timestamp,
    status: z.enum(['pending_verification', 'verified']).optional(),
    verified_at: Timestamp.optional(),
    last_error: z.string().optional(),
  })
  .meta({ id: 'Destination' });

export const ControlEvidence = z.object({
  framework: z.enum(Object.keys(FRAMEWORKS) as [keyof typeof FRAMEWORKS]),
  control_id: z.string(),
  title: z.string().nullable(),
  items: z.array(AuditEvent),
  next_token: z.string().optional(),
});

export const CompliancePackage = z
  .object({
    package_id: z.string(),
    tenant_id: z.string(),
    framework: z.enum(Object.keys(FRAMEWORKS) as [keyof typeof FRAMEWORKS]),
    status: z.literal('complete'),
    created_at: Timestamp,
    created_by: z.string(),
    period: z.object({ from: Timestamp, to: Timestamp, label: z.string() }),
    reports: z.array(z.string()),
    counts: z.object({ events: z.number().int(), sealed: z.number().int(), pending: z.number().int() }),
    artifacts: z.object({
      bucket: z.string(),
      manifest: z.string(),
      pdf: z.string(),
      jsonld: z.string(),
      sha256: z.record(z.string(), Hex),
    }),
  })
  .meta({ id: 'CompliancePackage' });

/** `?artifact=pdf`: the PDF, base64; `manifest` and `jsonld` answer the JSON document itself. */
export const PdfArtifact = z.object({
  content_type: z.literal('application/pdf'),
  encoding: z.literal('base64'),
  sha256: Hex,
  data: B64,
});
