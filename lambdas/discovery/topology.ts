import type { CapabilityTopology } from '../shared/topology-types.js';
import { CLOUDTRAIL_PATTERN } from './core/cloudtrail.js';
import { z } from 'zod';
import { page } from '../shared/responses.js';
import {
  AdoptBody,
  AdoptedAgent,
  CreatedSource,
  CreateSourceBody,
  DiscoveredAgent,
  DiscoverySourceView,
  DiscoveryStatus,
  HandshakeBody,
  IngestBody,
  IngestOutcome,
  InventoryEntry,
  ListAgentsQuery,
  ScanBody,
  ScanQueued,
  ScanRecord,
} from './schemas.js';

/** Name prefix of the cross-account scan roles the scan function may assume (lib/discovery.ts documents the role). */
export const SCAN_ROLE_PREFIX = 'arx-discovery-scan';

const stores = { inventoryTable: 'write', controlTable: 'write', bus: 'write' } as const;

/** C1 discovery: the agent inventory (SCD-2), its change feed, sources, scans and CloudTrail shadow agents. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'discovery-api',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/api.ts',
      description: 'Discovery API: inventory, sources, scans, status, push ingest, adoption',
      uses: stores,
    },
    {
      name: 'discovery-scan',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/scan-worker.ts',
      description: 'Runs requested and scheduled scans of the configured AWS accounts',
      uses: stores,
      timeoutSeconds: 300,
      memoryMb: 1024,
      extraPermissions: [
        {
          actions: [
            'bedrock:ListAgents',
            'bedrock:GetAgent',
            'bedrock-agentcore:ListAgentRuntimes',
            'bedrock-agentcore:GetAgentRuntime',
            'bedrock-agentcore:ListGateways',
            'bedrock-agentcore:GetGateway',
            'lambda:ListFunctions',
            'iam:ListRolePolicies',
            'iam:GetRolePolicy',
            'iam:ListAttachedRolePolicies',
            'iam:GetPolicy',
            'iam:GetPolicyVersion',
          ],
          resources: ['*'],
          reason:
            'Discovery enumerates every agent, runtime, gateway and function of the account: List* calls take no resource, Get* read whatever the listing returned (read-only).',
        },
        {
          actions: ['sts:AssumeRole'],
          resources: [`arn:aws:iam::*:role/${SCAN_ROLE_PREFIX}*`],
          reason:
            'Cross-account scans assume the documented read-only scan role in each configured account (external id = tenant id).',
        },
      ],
    },
    {
      name: 'discovery-cloudtrail',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/cloudtrail.ts',
      description: 'Applies Bedrock/AgentCore CloudTrail events from the default bus to the inventory (shadow agents)',
      uses: stores,
      timeoutSeconds: 30,
    },
    {
      name: 'discovery-evidence',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/evidence.ts',
      description:
        'Applies discovery.evidence events (OTLP spans naming an unknown gen_ai.agent.id, MCP handshakes) to the inventory',
      uses: stores,
      timeoutSeconds: 30,
    },
    {
      name: 'discovery-inventory-change',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/inventory-change.ts',
      description: 'Records each inventory.change event once (idempotent consumer)',
      uses: { controlTable: 'write' },
    },
    {
      name: 'platform-outbox-relay',
      capability: 'discovery',
      entry: 'lambdas/discovery/handlers/outbox-relay.ts',
      description: 'Publishes transactional-outbox events left unpublished by a failed PutEvents',
      uses: { controlTable: 'write', bus: 'write' },
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/v1/discovery/agents',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary:
        "List registered and discovered agents, each with `sanctioned` (filters: platform, source, sanctioned, q, status, owner, cohort; paginated); an ARX identity stands for its sanctioned discovered records, except under a discovery source filter, which lists that source's records, sanctioned ones too",
      query: ListAgentsQuery,
      response: { status: 200, description: '{items, next_token?}', schema: page(InventoryEntry) },
    },
    {
      method: 'GET',
      path: '/v1/discovery/agents/{id}',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'One discovered agent (current version, every source with its first/last seen)',
      response: { status: 200, description: 'DiscoveredAgent', schema: DiscoveredAgent },
    },
    {
      method: 'GET',
      path: '/v1/discovery/agents/{id}/history',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'SCD-2 history of a discovered agent, oldest first (valid_from / valid_to)',
      response: { status: 200, description: '{items}', schema: z.object({ items: z.array(DiscoveredAgent) }) },
    },
    {
      method: 'POST',
      path: '/v1/discovery/agents/{id}/adopt',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin'],
      summary:
        'Make a discovered agent an ARX identity with an owner (the registration answer, with a one-time bootstrap token)',
      body: AdoptBody,
      response: {
        status: 201,
        description: '{agent_id, spiffe_id, status, bootstrap_token, discovered_id}',
        schema: AdoptedAgent,
      },
    },
    {
      method: 'POST',
      path: '/v1/discovery/sources',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin'],
      summary:
        'Configure where to look: an AWS account (own, or through a cross-account scan role) or a push source with its own ingest token',
      body: CreateSourceBody,
      response: {
        status: 201,
        description: '{source_id, type, account_id?, regions?, platform?, ingest_token? (push, shown once)}',
        schema: CreatedSource,
      },
    },
    {
      method: 'GET',
      path: '/v1/discovery/sources',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Configured discovery sources',
      response: { status: 200, description: '{items}', schema: z.object({ items: z.array(DiscoverySourceView) }) },
    },
    {
      method: 'POST',
      path: '/v1/discovery/scan',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Start an asynchronous scan of one source or all AWS sources of the tenant',
      body: ScanBody,
      response: { status: 202, description: '{scan_id, status:"queued"}', schema: ScanQueued },
    },
    {
      method: 'GET',
      path: '/v1/discovery/scan/{id}',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Scan status: {status, found, new, changed, errors[]}',
      response: { status: 200, description: 'ScanRecord', schema: ScanRecord },
    },
    {
      method: 'GET',
      path: '/v1/discovery/status',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Discovery freshness: per source last success, lag and errors; CloudTrail feed lag',
      response: { status: 200, description: '{sources[], cloudtrail}', schema: DiscoveryStatus },
    },
    {
      method: 'POST',
      path: '/v1/discovery/ingest',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Push discovery evidence (generic schema; every item names its platform)',
      body: IngestBody,
      response: { status: 200, description: '{found, new, changed, ids}', schema: IngestOutcome },
    },
    {
      method: 'POST',
      path: '/v1/discovery/handshakes',
      fn: 'discovery-api',
      auth: 'bearer',
      roles: ['agent'],
      summary:
        "Report an MCP client's initialize seen by the calling agent's gateway (arx mcp-gateway): mcp_handshake evidence of that agent",
      body: HandshakeBody,
      response: { status: 200, description: '{found, new, changed, ids}', schema: IngestOutcome },
    },
    {
      method: 'POST',
      path: '/v1/discovery/sources/{id}/ingest',
      fn: 'discovery-api',
      auth: 'none',
      roles: [],
      summary: "Push discovery evidence with the push source's own token (Authorization: Bearer arxs_…)",
      body: IngestBody,
      response: { status: 200, description: '{found, new, changed, ids}', schema: IngestOutcome },
    },
  ],
  events: [
    { name: 'record-inventory-change', fn: 'discovery-inventory-change', detailTypes: ['inventory.change'] },
    { name: 'apply-discovery-evidence', fn: 'discovery-evidence', detailTypes: ['discovery.evidence'] },
    { name: 'run-requested-scan', fn: 'discovery-scan', detailTypes: ['discovery.scan.requested'] },
    {
      name: 'cloudtrail-agent-events',
      fn: 'discovery-cloudtrail',
      bus: 'default',
      sources: CLOUDTRAIL_PATTERN.sources,
      detailTypes: CLOUDTRAIL_PATTERN.detailTypes,
      detail: CLOUDTRAIL_PATTERN.detail,
      allManagementEvents: true,
    },
  ],
  schedules: [
    { name: 'outbox-relay', fn: 'platform-outbox-relay', rate: 'rate(1 minute)' },
    { name: 'discovery-scan', fn: 'discovery-scan', rate: 'rate(5 minutes)' },
  ],
};
export default topology;
