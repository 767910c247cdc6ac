import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { Outbox } from '../../shared/outbox.js';

const outbox = perEnvironment(() => {
  const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
  return new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS));
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);

/** Scheduled: publishes events whose immediate publish failed after their state change committed. */
export const handler = createJobHandler(async () => {
  const n = await outbox().relay(new Date());
  if (n > 0) logger.info('outbox relayed', { count: n });
});
