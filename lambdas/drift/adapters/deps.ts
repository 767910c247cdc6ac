import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { perEnvironment, readSettings } from '../../shared/settings.js';
import { createSpendGate } from '../../observability/index.js';
import { DynamoInventoryReader } from '../../policy/index.js';
import { DriftService } from '../core/service.js';
import { DynamoDriftStore } from './dynamo-drift-store.js';

export const BUS_SETTINGS = ['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS', 'ARX_TRACES_TABLE', 'ARX_INVENTORY_TABLE'] as const;
export const API_SETTINGS = ['ARX_CONTROL_TABLE', 'ARX_INVENTORY_TABLE'] as const;

/** Composition root of the bus consumer: the drift store, the outbox, and observability's spend as the cost signal. */
export const busDeps = perEnvironment(() => {
  const c = readSettings(BUS_SETTINGS);
  const spend = createSpendGate(c.ARX_TRACES_TABLE, c.ARX_INVENTORY_TABLE);
  return new DriftService({
    store: new DynamoDriftStore(c.ARX_CONTROL_TABLE),
    events: new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS)),
    spend: (t, a) => spend.daySpend(t, a),
    clock: systemClock,
  });
});

/** Composition root of the read API (no events are written there). */
export const apiDeps = perEnvironment(() => {
  const c = readSettings(API_SETTINGS);
  return {
    drift: new DriftService({
      store: new DynamoDriftStore(c.ARX_CONTROL_TABLE),
      events: { flush: async () => 0 },
      clock: systemClock,
    }),
    inventory: new DynamoInventoryReader(c.ARX_INVENTORY_TABLE),
  };
});
