import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { handlerSettings } from '../../shared/settings.js';
import { DELIVERY_SETTINGS, deliveryDeps } from '../adapters/deps.js';
import { fanOut } from '../core/deliver.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DELIVERY_SETTINGS);

/**
 * One ARX event → a delivery per interested subscription, attempted now. A delivery that fails is
 * left to the retry worker (never thrown: the bus must not redeliver what is already recorded); a
 * failure to record them throws, so the bus redelivers and the consumer's dead-letter queue keeps it.
 */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>) => {
  const r = await fanOut(
    deliveryDeps(),
    event['detail-type'],
    event.detail ?? {},
    event.time ?? new Date().toISOString(),
  );
  if (r.created)
    logger.info('streamed', { detail_type: event['detail-type'], created: r.created, delivered: r.delivered });
});
