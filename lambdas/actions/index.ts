/**
 * What other capabilities and tools import from actions (C3 governed actions). Everything else
 * under `lambdas/actions/` is private to it (test/unit/boundaries.test.ts holds the line).
 *
 * @example
 * import { createApprovalDrainer } from '../actions/index.js';
 * await createApprovalDrainer().cancelPendingForAgent(tenantId, agentId, 'agent terminated'); // kill-switch step
 */

// The ApprovalDrainer port of shared/ports.ts (the kill switch's drain step).
export { createApprovalDrainer, DRAINER_SETTINGS } from './adapters/drainer.js';
// Read access to actions and approvals (credential issuance checks the action; trace views show it).
export { DynamoActionStore } from './adapters/dynamo-action-store.js';
// The ApprovalHistory port of shared/ports.ts (policy's graduated-autonomy recommendations).
export { createApprovalHistory } from './adapters/approval-history.js';
// The connector catalogue (`arx policy` validates action names) and the AWS connector's session scope.
export { CONNECTORS } from './connectors/index.js';
export { awsActionScope } from './connectors/aws.js';
// Approval rates and time to decision over a window (the dashboard's summary).
export { createApprovalStatsReader } from './adapters/approval-stats-reader.js';
