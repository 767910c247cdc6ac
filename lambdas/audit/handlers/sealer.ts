import { createJobHandler } from '../../shared/http.js';
import { handlerSettings, setting } from '../../shared/settings.js';
import { logger } from '../../shared/observability.js';
import { sealLoop } from '../core/sealer.js';
import { SEALER_SETTINGS, sealerDeps } from '../adapters/deps.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(SEALER_SETTINGS, ['ARX_SEAL_INTERVAL_MS', 'ARX_SEAL_BUDGET_MS']);

/**
 * Scheduled once a minute; seals every tenant's pending events every ARX_SEAL_INTERVAL_MS
 * (default 5 s) until ARX_SEAL_BUDGET_MS (default 50 s) has elapsed.
 */
export const handler = createJobHandler(async () => {
  const results = await sealLoop(sealerDeps(), {
    intervalMs: setting('ARX_SEAL_INTERVAL_MS'),
    budgetMs: setting('ARX_SEAL_BUDGET_MS'),
  });
  const sealed = results.filter((r) => r.sealed);
  logger.info('sealer run', {
    blocks: sealed.length,
    events: sealed.reduce((n, r) => n + (r.sealed?.events ?? 0), 0),
    anchored_retries: results.reduce((n, r) => n + r.anchoredRetries, 0),
    replayed: results.reduce((n, r) => n + r.replayed, 0),
  });
});
