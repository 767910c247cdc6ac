import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { handlerSettings } from '../../shared/settings.js';
import { BUS_SETTINGS, busDeps } from '../adapters/deps.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(BUS_SETTINGS);

/**
 * Folds one decision, denial or execution into the agent's drift baseline (idempotent on the event
 * id); an `agent.drift` event commits with the state when the score crosses the alert line. A
 * failure throws: the bus redelivers and the consumer's dead-letter queue keeps the event.
 */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>) => {
  const r = await busDeps().ingest(event['detail-type'], event.detail ?? {});
  if (r?.crossed) logger.info('agent drift crossed the alert line', { state: r.crossed, score: r.report.score });
});
