import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { systemClock } from '../../shared/clock.js';
import { logger } from '../../shared/observability.js';
import { AUDIT_SINK_SETTINGS, createAuditSink } from '../sink.js';
import { handlerSettings } from '../../shared/settings.js';
import { auditInputFromBus } from '../core/bus.js';

const sink = createAuditSink();

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(AUDIT_SINK_SETTINGS);

/** Records identity changes and bundle promotions from the bus into the audit chain (idempotent). */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>) => {
  const mapped = auditInputFromBus(event['detail-type'], event.detail ?? {}, systemClock.now());
  if (!mapped) {
    logger.warn('bus event not audited', { detail_type: event['detail-type'] });
    return;
  }
  // Throws on failure so EventBridge/SQS retries and the DLQ keeps what could not be recorded.
  const r = await sink.recorder().recordEvent(mapped.input, mapped.dedupeKey);
  logger.info('bus event audited', {
    event_type: mapped.input.event_type,
    event_id: r.event.event_id,
    duplicate: r.duplicate,
  });
});
