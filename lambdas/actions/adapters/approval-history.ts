import type { ApprovalHistory, DecidedApproval } from '../../shared/ports.js';
import { DynamoActionStore } from './dynamo-action-store.js';

const DECIDED = new Set(['approved', 'denied', 'expired']);

/** The ApprovalHistory port on the actions store: approvals created since a time that were decided. */
export function createApprovalHistory(
  controlTable: string,
  store = new DynamoActionStore(controlTable),
): ApprovalHistory {
  return {
    async decided(tenantId: string, sinceIso: string): Promise<readonly DecidedApproval[]> {
      const all = await store.listApprovals(tenantId, { since: sinceIso });
      return all
        .filter((a) => DECIDED.has(a.status))
        .map((a) => ({
          approval_id: a.approval_id,
          agent_id: a.agent_id,
          action: a.action,
          policy: a.policy,
          risk: a.risk,
          status: a.status as DecidedApproval['status'],
          created_at: a.created_at,
          ...(a.decided_at ? { decided_at: a.decided_at } : {}),
          ...(a.decided_by ? { decided_by: a.decided_by } : {}),
        }));
    },
  };
}
