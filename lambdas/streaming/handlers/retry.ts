import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { handlerSettings } from '../../shared/settings.js';
import { DELIVERY_SETTINGS, deliveryDeps } from '../adapters/deps.js';
import { runDue } from '../core/deliver.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DELIVERY_SETTINGS);

/** Scheduled: attempts the deliveries whose next attempt is due (retries, replays, crashed first attempts). */
export const handler = createJobHandler(async () => {
  const d = deliveryDeps();
  const deadline = Date.now() + 45_000;
  let total = 0;
  for (;;) {
    const r = await runDue(d, { limit: 200, concurrency: 8 });
    total += r.attempted;
    if (r.attempted === 0 || Date.now() > deadline) break;
  }
  if (total) logger.info('streaming retries attempted', { attempted: total });
});
