import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { handlerSettings } from '../../shared/settings.js';
import { discovery, DISCOVERY_SETTINGS } from '../adapters/deps.js';
import { applyEvidenceEvent, parseEvidenceEvent } from '../core/evidence-event.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DISCOVERY_SETTINGS);

/**
 * Consumes `discovery.evidence` (OTLP spans naming an unknown `gen_ai.agent.id`, MCP handshakes
 * seen by the gateway) into the inventory. A malformed event is dropped with a log; a failure of
 * the store throws, so the bus retries the delivery.
 */
export const handler = createJobHandler(async (event: EventBridgeEvent<'discovery.evidence', unknown>) => {
  const detail = parseEvidenceEvent(event.detail);
  if (!detail) {
    logger.warn('dropping malformed discovery.evidence', { id: event.id });
    return;
  }
  const d = discovery();
  const out = await applyEvidenceEvent(
    d.deps,
    async (tenantId, id) => (await d.registered.get(tenantId, id)) !== null,
    detail,
  );
  logger.info('discovery evidence applied', {
    source: detail.source,
    found: out.found,
    new: out.new,
    changed: out.changed,
    skipped: out.skipped,
  });
});
