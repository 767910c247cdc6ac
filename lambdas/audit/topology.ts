import type { CapabilityTopology } from '../shared/topology-types.js';
import { AUDITED_DETAIL_TYPES } from './core/bus.js';
import { z } from 'zod';
import { JwkSet, page } from '../shared/responses.js';
import {
  AuditBlock,
  AuditEvent,
  BlockList,
  BlocksQuery,
  ChainStatus,
  CompliancePackage,
  ControlEvidence,
  Destination,
  DestinationBody,
  EventProof,
  EventsQuery,
  EvidenceQuery,
  PackageBody,
  PackageQuery,
  PdfArtifact,
} from './schemas.js';

/** Sealer schedule: once a minute; inside each run it seals every 5 s (ARX_SEAL_INTERVAL_MS). */
export const SEALER_RATE = 'rate(1 minute)';

/** C4 audit chain, offline-verifiable blocks and compliance evidence. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'audit-api',
      capability: 'audit',
      entry: 'lambdas/audit/handlers/api.ts',
      description: 'Audit chain read API and customer destinations',
      uses: { auditTable: 'write', auditBucket: 'read' },
    },
    {
      name: 'audit-sealer',
      capability: 'audit',
      entry: 'lambdas/audit/handlers/sealer.ts',
      description: 'Seals pending audit events into signed, RFC 3161-anchored Merkle blocks every 5 s',
      // controlTable: the outbox that audit.block.sealed commits to with its block
      uses: { auditTable: 'write', auditBucket: 'write', signingKey: 'write', bus: 'write', controlTable: 'write' },
      timeoutSeconds: 70,
      memoryMb: 1024,
      environment: { ARX_SEAL_INTERVAL_MS: '5000', ARX_SEAL_BUDGET_MS: '50000' },
      extraPermissions: [
        {
          actions: ['sts:AssumeRole'],
          resources: ['arn:aws:iam::*:role/*'],
          reason:
            'Customer audit destinations are cross-account roles named by each tenant at runtime (POST /v1/audit/destinations); the session policy limits them to s3:PutObject under the destination prefix.',
        },
      ],
    },
    {
      name: 'audit-bus-consumer',
      capability: 'audit',
      entry: 'lambdas/audit/handlers/bus-consumer.ts',
      description: 'Records identity changes and bundle promotions from the bus into the audit chain',
      uses: { auditTable: 'write', dataKey: 'write' },
    },
    {
      name: 'compliance-api',
      capability: 'audit',
      entry: 'lambdas/audit/handlers/compliance.ts',
      description: 'Compliance evidence per control and evidence packages (PDF, JSON-LD, proofs)',
      uses: { auditTable: 'write', auditBucket: 'read', artifactBucket: 'write' },
      timeoutSeconds: 60,
      memoryMb: 1024,
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/tenants/{tenant_id}/.well-known/audit-keys.json',
      fn: 'audit-api',
      auth: 'none',
      roles: [],
      summary: 'The tenant audit key set: every key that ever signed a block head (never retired)',
      response: { status: 200, description: '{keys:[JWK…]}', schema: JwkSet, contentType: 'application/jwk-set+json' },
    },
    {
      method: 'GET',
      path: '/v1/audit/chain/status',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Chain height, head hash, last sealed / anchored times, pending events, anchoring lag',
      response: {
        status: 200,
        description:
          '{height, head_hash, last_sealed_at, last_anchored_at, pending_events, unanchored_blocks, anchoring_lag_seconds}',
        schema: ChainStatus,
      },
    },
    {
      method: 'GET',
      path: '/v1/audit/events',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Audit events, newest first, filtered by agent and type',
      query: EventsQuery,
      response: { status: 200, description: '{items: AuditEvent[], next_token?}', schema: page(AuditEvent) },
    },
    {
      method: 'GET',
      path: '/v1/audit/events/{event_id}/proof',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'RFC 9162 inclusion proof of an event against its block’s signed root (409 while not yet sealed)',
      response: {
        status: 200,
        description:
          '{event_id, leaf_hash, block_id, leaf_index, tree_size, root, proof[], block_hash, signature, kid}',
        schema: EventProof,
      },
    },
    {
      method: 'GET',
      path: '/v1/audit/blocks',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Block headers from a height',
      query: BlocksQuery,
      response: { status: 200, description: '{items: BlockHeader[], next_from_height?}', schema: BlockList },
    },
    {
      method: 'GET',
      path: '/v1/audit/blocks/{id}',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'One block exactly as stored in the Object Lock bucket (what arx-verify reads)',
      response: { status: 200, description: 'AuditBlock', schema: AuditBlock },
    },
    {
      method: 'POST',
      path: '/v1/audit/destinations',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Add a customer S3 destination written through a cross-account role',
      body: DestinationBody,
      response: {
        status: 201,
        description: '{destination_id, bucket, prefix, role_arn, created_at}',
        schema: Destination,
      },
    },
    {
      method: 'GET',
      path: '/v1/audit/destinations',
      fn: 'audit-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Customer destinations and their replay queue depth',
      response: {
        status: 200,
        description: '{items: Destination[], queued_writes}',
        schema: z.object({ items: z.array(Destination), queued_writes: z.number().int() }),
      },
    },
    {
      method: 'GET',
      path: '/v1/compliance/controls/{framework}/{control_id}/evidence',
      fn: 'compliance-api',
      auth: 'bearer',
      roles: ['auditor', 'admin'],
      summary: 'Evidence events tagged with a control at emit time (paginated)',
      query: EvidenceQuery,
      response: {
        status: 200,
        description: '{framework, control_id, title, items: AuditEvent[], next_token?}',
        schema: ControlEvidence,
      },
    },
    {
      method: 'POST',
      path: '/v1/compliance/packages',
      fn: 'compliance-api',
      auth: 'bearer',
      roles: ['auditor', 'admin'],
      summary:
        'Build an evidence package: events, inclusion proofs, control mapping, PDF summary, JSON-LD, verifier instructions',
      body: PackageBody,
      response: { status: 201, description: 'CompliancePackage', schema: CompliancePackage },
    },
    {
      method: 'GET',
      path: '/v1/compliance/packages/{id}',
      fn: 'compliance-api',
      auth: 'bearer',
      roles: ['auditor', 'admin'],
      summary: 'A built evidence package (record and artifact locations; ?artifact=manifest|jsonld|pdf downloads one)',
      query: PackageQuery,
      response: {
        status: 200,
        description: 'CompliancePackage, or the artifact',
        schema: z.union([CompliancePackage, PdfArtifact, z.record(z.string(), z.unknown())]),
      },
    },
  ],
  events: [{ name: 'audit-governed-changes', fn: 'audit-bus-consumer', detailTypes: [...AUDITED_DETAIL_TYPES] }],
  schedules: [{ name: 'audit-sealer-schedule', fn: 'audit-sealer', rate: SEALER_RATE }],
};
export default topology;
