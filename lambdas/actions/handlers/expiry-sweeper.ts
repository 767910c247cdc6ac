import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { ACTIONS_SETTINGS, actionsDeps } from '../adapters/deps.js';
import { handlerSettings } from '../../shared/settings.js';

/**
 * rate(1 minute): expires overdue approvals (decision.expired; the API also expires lazily on
 * read) and recovers actions a crashed executor left in flight.
 */
/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(ACTIONS_SETTINGS, ['ARX_TRACES_TABLE']);

export const handler = createJobHandler(async () => {
  const { service, durableAudit } = actionsDeps();
  // Audit writes parked while the audit table was unavailable are recorded now (issue 19 §5).
  const parked = await durableAudit.drain(500).catch((e: unknown) => {
    logger.error('parked audit writes could not be read', { error_name: (e as Error).name });
    return { recorded: 0, left: -1 };
  });
  if (parked.recorded || parked.left) logger.info('parked audit writes drained', parked);
  let total = 0;
  for (let i = 0; i < 10; i++) {
    const n = await service.sweepExpired(100);
    total += n;
    if (n < 100) break;
  }
  if (total) logger.info('approvals expired', { count: total });
  const recovered = await service.recoverStalled();
  if (recovered.resumed || recovered.failed) logger.info('stalled actions recovered', { ...recovered });
});
