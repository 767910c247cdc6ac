import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { sweepOrphans } from '../core/owners.js';
import { identityService } from '../service.js';

/** Scheduled: suspends agents orphaned longer than ARX_ORPHAN_GRACE_SECONDS (default 7 days). */
export const handler = createJobHandler(async () => {
  const svc = identityService();
  const out = await sweepOrphans(svc.ownerDeps, svc.orphanGraceS);
  logger.info('orphan sweep', { suspended: out.suspended.length, cleared: out.cleared });
});
