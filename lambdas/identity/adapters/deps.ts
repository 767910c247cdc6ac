import { lazyConfig, readConfig } from '../../shared/config.js';
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore } from '../../discovery/adapters/dynamo-inventory-store.js';
import type { AgentDeps } from '../core/agents.js';

/** Wires the identity capability's adapters from the function's environment, once. */
export const identityDeps = lazyConfig((): AgentDeps => {
  const c = readConfig(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
  const outbox = new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS));
  return {
    inventory: new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, outbox),
    clock: systemClock,
    controlTable: c.ARX_CONTROL_TABLE,
  };
});
