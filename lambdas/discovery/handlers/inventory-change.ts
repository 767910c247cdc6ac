import type { EventBridgeEvent } from 'aws-lambda';
import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { parseInventoryChange } from '../core/change-log.js';
import { DynamoChangeLog } from '../adapters/dynamo-change-log.js';

const log = perEnvironment(() => new DynamoChangeLog(readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE));

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE']);

/** Consumes `inventory.change` (at-least-once delivery) and records each change exactly once. */
export const handler = createJobHandler(async (event: EventBridgeEvent<'inventory.change', unknown>) => {
  const change = parseInventoryChange(event.detail);
  if (!change) {
    logger.warn('dropping malformed inventory.change', { id: event.id });
    return;
  }
  const fresh = await log().recordOnce(change, new Date().toISOString());
  logger.info(fresh ? 'inventory change recorded' : 'inventory change already recorded', { event_id: change.event_id });
});
