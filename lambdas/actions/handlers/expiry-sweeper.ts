import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { actionsDeps } from '../adapters/deps.js';

/**
 * rate(1 minute): expires overdue approvals (decision.expired; the API also expires lazily on
 * read) and recovers actions a crashed executor left in flight.
 */
export const handler = createJobHandler(async () => {
  const { service } = actionsDeps();
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
