import type { CapabilityTopology, FunctionSpec } from '../shared/topology-types.js';
import { z } from 'zod';
import { KillTarget, KillTargetBody, QuorumPending, TerminateBody, Termination } from './schemas.js';

/** Function names of the termination saga's tasks, by step (lib/kill-switch.ts builds the state machine from these). */
export const SAGA_FUNCTIONS = {
  inventory: 'killswitch-step-inventory',
  revocation: 'killswitch-step-revocation',
  credentials: 'killswitch-step-credentials',
  platform: 'killswitch-step-platform',
  drain: 'killswitch-step-drain',
  audit: 'killswitch-step-audit',
  attestation: 'killswitch-step-attestation',
  recordFailure: 'killswitch-step-record-failure',
  finalize: 'killswitch-step-finalize',
} as const;

const step = (
  name: string,
  entry: string,
  description: string,
  uses: FunctionSpec['uses'],
  extra: Partial<FunctionSpec> = {},
): FunctionSpec => ({
  name,
  capability: 'killswitch',
  entry: `lambdas/killswitch/handlers/${entry}.ts`,
  description,
  uses: { controlTable: 'write', ...uses },
  timeoutSeconds: 60,
  ...extra,
});

/** C6 kill switch: termination API, the termination saga's tasks. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'killswitch-api',
      capability: 'killswitch',
      entry: 'lambdas/killswitch/handlers/api.ts',
      description: 'Kill switch API: terminate agent / cohort / org (quorum), termination status',
      uses: {
        inventoryTable: 'write',
        controlTable: 'write',
        revocationTable: 'write',
        bus: 'write',
        terminationStateMachine: 'write',
      },
      timeoutSeconds: 29,
    },
    step(SAGA_FUNCTIONS.inventory, 'step-inventory', 'Termination step 1 (fail-closed): inventory status terminated', {
      inventoryTable: 'write',
      bus: 'write',
    }),
    step(SAGA_FUNCTIONS.revocation, 'step-revocation', 'Termination step 2 (fail-closed): revocation-list entry', {
      inventoryTable: 'read',
      revocationTable: 'write',
    }),
    step(
      SAGA_FUNCTIONS.credentials,
      'step-credentials',
      'Termination step 3: cascade-revoke credential bindings and cached credentials',
      {
        revocationTable: 'read',
        // F6: deny older STS sessions on registered roles, RFC 7009-revoke issued OAuth tokens.
        credentialBroker: 'write',
      },
    ),
    step(
      SAGA_FUNCTIONS.platform,
      'step-platform',
      'Termination step 4: platform kill commands (Bedrock agents, generic HTTP)',
      { inventoryTable: 'read' },
      {
        extraPermissions: [
          {
            actions: [
              'bedrock:GetAgent',
              'bedrock:ListTagsForResource',
              'bedrock:ListAgentActionGroups',
              'bedrock:GetAgentActionGroup',
              'bedrock:UpdateAgentActionGroup',
              'bedrock:PrepareAgent',
            ],
            resources: ['arn:aws:bedrock:*:*:agent/*'],
            // F13: only agents tagged as some ARX tenant's; the adapter checks the tag names this tenant
            conditions: { Null: { 'aws:ResourceTag/arx:tenant': 'false' } },
            reason:
              'Bedrock agents governed by ARX are registered at runtime; only agents carrying the arx:tenant tag can be read or changed, and the adapter checks the tag is the terminating tenant before disabling their action groups.',
          },
        ],
      },
    ),
    // actions' ApprovalDrainer: the action store (control table), the audit sink and the bus; no PDP.
    step(
      SAGA_FUNCTIONS.drain,
      'step-drain',
      'Termination step 5: cancel pending approvals, refuse in-flight actions (actions capability hook)',
      {
        auditTable: 'write',
        dataKey: 'write',
        bus: 'write',
      },
    ),
    step(SAGA_FUNCTIONS.audit, 'step-audit', 'Termination step 6: agent.terminated audit event', {
      inventoryTable: 'read',
      auditTable: 'write',
      dataKey: 'write',
      bus: 'write',
    }),
    step(
      SAGA_FUNCTIONS.attestation,
      'step-attestation',
      'Termination step 7: signed exit attestation to the audit bucket',
      {
        inventoryTable: 'read',
        auditTable: 'read',
        auditBucket: 'write',
        signingKey: 'write',
      },
    ),
    step(
      SAGA_FUNCTIONS.recordFailure,
      'step-record-failure',
      'Termination saga: records a step that exhausted its retries as failed',
      {},
    ),
    step(SAGA_FUNCTIONS.finalize, 'step-finalize', 'Termination saga: final status and agent.terminated.completed', {
      bus: 'write',
      inventoryTable: 'read',
      revocationTable: 'read',
    }),
  ],
  routes: [
    {
      method: 'POST',
      path: '/v1/agents/{id}/terminate',
      fn: 'killswitch-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Terminate one agent everywhere (revoked before this returns; the rest of the saga runs asynchronously)',
      body: TerminateBody,
      response: { status: 202, description: '{termination_id, status:"in_flight"}', schema: Termination },
      otherResponses: [
        {
          status: 200,
          description: 'The existing termination when the agent is already terminated',
          schema: Termination,
        },
      ],
    },
    {
      method: 'POST',
      path: '/v1/cohorts/{id}/terminate',
      fn: 'killswitch-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Terminate every agent of a cohort',
      body: TerminateBody,
      response: { status: 202, description: '{termination_id, status, agent_ids}', schema: Termination },
      otherResponses: [{ status: 200, description: 'The existing termination of this cohort', schema: Termination }],
    },
    {
      method: 'POST',
      path: '/v1/org/{tenant_id}/emergency_stop',
      fn: 'killswitch-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Emergency stop of every agent of the tenant: needs two different admins within 10 minutes',
      body: TerminateBody,
      response: {
        status: 202,
        description: '{status:"pending_quorum", request_id, expires_at} or {termination_id, status:"in_flight"}',
        schema: z.union([QuorumPending, Termination]),
      },
      otherResponses: [{ status: 200, description: 'The existing termination of this tenant', schema: Termination }],
    },
    {
      method: 'GET',
      path: '/v1/terminations/{id}',
      fn: 'killswitch-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Termination status and steps',
      response: { status: 200, description: 'Termination {status, steps, attestation_url?}', schema: Termination },
    },
    {
      method: 'PUT',
      path: '/v1/killswitch/platforms/{platform}',
      fn: 'killswitch-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: "Configure a platform's generic HTTP kill endpoint for this tenant",
      body: KillTargetBody,
      response: { status: 200, description: '{platform, url, timeout_ms?}', schema: KillTarget },
    },
  ],
};
export default topology;
