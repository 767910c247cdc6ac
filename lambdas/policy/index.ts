/**
 * What other capabilities, the PDP extension and the CLI import from policy (C3). Everything else
 * under `lambdas/policy/` is private to it (test/unit/boundaries.test.ts holds the line).
 *
 * @example
 * import { createDecisionPoint } from '../policy/index.js';
 * const d = await createDecisionPoint().decide({ tenantId, principal: { type: 'Agent', id }, action: 'okta:users:deactivate' });
 */

// The in-process DecisionPoint (actions, the SDK gateway).
export { createDecisionPoint, PDP_SETTINGS, type CreateDecisionPointOptions } from './pdp.js';

// The parts the PDP extension (layers/pdp-extension) composes its own decision point from.
export { TenantBundlePdp, type DecisionRecorder } from './core/decision-point.js';
export { CachedPrincipalStatus, DEFAULT_ORPHAN_GRACE_S } from './core/principal-status.js';
export { PEP_VERSION } from './core/service.js';
export { S3BundleStore } from './adapters/s3-bundles.js';
export { TenantBundleSigner } from './core/signing.js';
export { DynamoInventoryReader } from './adapters/dynamo-inventory-reader.js';

// The enforcement log, for the hosted MCP gateway (actions) that records its calls in process.
export { DynamoEnforcementLog } from './adapters/dynamo-control.js';

// Offline bundle compilation (`arx policy build`).
export { compileBundle, type BundleInput } from './core/bundle.js';
