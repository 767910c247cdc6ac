import { approvalStats, type ApprovalStats } from '../core/stats.js';
import { DynamoActionStore } from './dynamo-action-store.js';

/** Most approvals one window reads; a window with more says so (`truncated`). */
export const MAX_WINDOW_APPROVALS = 10_000;

/**
 * Approval and denial rates and time to decision, overall, per policy and per approver, of the
 * approvals created in [from, to) — what `GET /v1/approvals/stats` answers, over a closed window.
 */
export function createApprovalStatsReader(controlTable: string): {
  stats(tenantId: string, from: string, to: string): Promise<ApprovalStats & { truncated: boolean }>;
} {
  const store = new DynamoActionStore(controlTable);
  return {
    async stats(tenantId, from, to) {
      const read = await store.listApprovals(tenantId, { since: from, limit: MAX_WINDOW_APPROVALS + 1 });
      const items = read.filter((a) => a.created_at < to);
      return { ...approvalStats(items.slice(0, MAX_WINDOW_APPROVALS)), truncated: read.length > MAX_WINDOW_APPROVALS };
    },
  };
}
