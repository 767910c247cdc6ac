import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { busDeps } from '../adapters/deps.js';
import { recordActionEvent } from '../core/arx-spans.js';

/** Writes ARX's own spans (decision → approval → execution) from the action events (idempotent). */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>) => {
  const r = await recordActionEvent(busDeps().spans, event['detail-type'], event.detail ?? {}, event.time ?? new Date().toISOString());
  logger.info('arx spans recorded', { detail_type: event['detail-type'], spans: r.spans });
});
