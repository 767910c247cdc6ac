/**
 * What other capabilities import from actions.
 *
 * @example
 * import { cancelPendingForAgent } from '../actions/index.js';
 * await cancelPendingForAgent(tenantId, agentId, 'agent terminated'); // kill-switch step
 */
import { actionsDeps } from './adapters/deps.js';

/**
 * Kill-switch hook: cancels the agent's pending approvals (they can no longer be approved) and
 * refuses its approved-but-not-started actions. Idempotent; returns how many it cancelled.
 * Needs ARX_CONTROL_TABLE, ARX_INVENTORY_TABLE, ARX_REVOCATION_TABLE and ARX_EVENT_BUS.
 */
export function cancelPendingForAgent(tenantId: string, agentId: string, reason: string): Promise<number> {
  return actionsDeps().service.cancelPendingForAgent(tenantId, agentId, reason);
}

export { ActionService } from './core/service.js';
