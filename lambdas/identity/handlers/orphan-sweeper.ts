import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { sweepOrphans } from '../core/owners.js';
import { identityService } from '../service.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings([
  'ARX_INVENTORY_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_EVENT_BUS',
  'ARX_SVID_TTL_SECONDS',
  'ARX_ORPHAN_GRACE_SECONDS',
]);

/** Scheduled: suspends agents orphaned longer than ARX_ORPHAN_GRACE_SECONDS (default 7 days). */
export const handler = createJobHandler(async () => {
  const svc = identityService();
  const out = await sweepOrphans(svc.ownerDeps, svc.orphanGraceS);
  logger.info('orphan sweep', { suspended: out.suspended.length, cleared: out.cleared });
});
