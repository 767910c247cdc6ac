import { createApprovalStatsReader } from '../../actions/index.js';
import { createAuditWindowReader } from '../../audit/index.js';
import { createCostReader } from '../../observability/index.js';
import { perEnvironment, readSettings } from '../../shared/settings.js';
import type { DashboardSources } from '../core/summary.js';

/** What {@link dashboardDeps} reads. */
export const DASHBOARD_SETTINGS = ['ARX_CONTROL_TABLE', 'ARX_AUDIT_TABLE', 'ARX_TRACES_TABLE'] as const;

/** The composition root: each source is the owning capability's facade. */
export const dashboardDeps = perEnvironment((): DashboardSources => {
  const c = readSettings(DASHBOARD_SETTINGS);
  return {
    approvals: createApprovalStatsReader(c.ARX_CONTROL_TABLE),
    audit: createAuditWindowReader(c.ARX_AUDIT_TABLE),
    cost: createCostReader(c.ARX_TRACES_TABLE),
  };
});
