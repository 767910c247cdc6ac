import type { CapabilityTopology } from '../shared/topology-types.js';
import {
  BundleDiff,
  EnforcementAccepted,
  EnforcementLogBody,
  Evaluation,
  EvaluateBody,
  PromotedBundle,
  PushBundleBody,
  PushedBundle,
} from './schemas.js';

/** C3 policy: bundles (push, promote, diff), remote evaluation, EnforcementEvents. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'policy-api',
      capability: 'policy',
      entry: 'lambdas/policy/handlers/api.ts',
      description: 'Policy bundles, remote PDP and enforcement log',
      uses: {
        bundleBucket: 'write',
        controlTable: 'write',
        revocationTable: 'read',
        inventoryTable: 'read',
        signingKey: 'write',
        bus: 'write',
      },
      nodeModules: ['@cedar-policy/cedar-wasm'],
      memoryMb: 1024,
      timeoutSeconds: 20,
    },
  ],
  routes: [
    {
      method: 'POST',
      path: '/v1/policies/bundles',
      fn: 'policy-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: 'Upload a policy bundle (Cedar or YAML): strictly validated, signed, stored immutable',
      body: PushBundleBody,
      response: { status: 201, description: '{bundle_id, version, digest}', schema: PushedBundle },
    },
    {
      method: 'POST',
      path: '/v1/policies/bundles/{id}/promote',
      fn: 'policy-api',
      auth: 'bearer',
      roles: ['admin'],
      summary: "Make a stored bundle the tenant's live bundle",
      response: { status: 200, description: '{live_bundle_id, version}', schema: PromotedBundle },
    },
    {
      method: 'GET',
      path: '/v1/policies/bundles/{id}/diff/{prev_id}',
      fn: 'policy-api',
      auth: 'bearer',
      roles: ['admin', 'auditor'],
      summary: 'Policy-by-policy diff of a bundle against an earlier one',
      response: {
        status: 200,
        description: '{added, removed, changed, unchanged, schema_changed, …}',
        schema: BundleDiff,
      },
    },
    {
      method: 'POST',
      path: '/v1/policies/evaluate',
      fn: 'policy-api',
      auth: 'bearer',
      roles: ['admin', 'agent'],
      summary: 'Remote PDP: decide one request against the live bundle (an agent may only ask about itself)',
      body: EvaluateBody,
      response: {
        status: 200,
        description: '{effect, approval, risk, determining_policies, errors, evaluation_ms, bundle_version}',
        schema: Evaluation,
      },
    },
    {
      method: 'POST',
      path: '/v1/enforcement/log',
      fn: 'policy-api',
      auth: 'bearer',
      roles: ['agent', 'admin'],
      summary: 'Batch of EnforcementEvents from external enforcement points',
      body: EnforcementLogBody,
      response: { status: 202, description: '{accepted}', schema: EnforcementAccepted },
    },
  ],
};
export default topology;
