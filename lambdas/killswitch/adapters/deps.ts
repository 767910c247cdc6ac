import { agentStatePut, DynamoInventoryStore } from '../../identity/index.js';
import { systemClock } from '../../shared/clock.js';
import { optionalSetting, perEnvironment, readSettings, setting } from '../../shared/settings.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoRevocationList } from '../../shared/revocation.js';
import type { TerminateDeps } from '../core/terminate.js';
import type { AgentStatePut } from '../core/saga.js';
import { SfnSagaStarter } from './aws.js';
import { DynamoTerminationStore } from './dynamo-termination-store.js';
import { ConfiguredPlatformKillRegistry } from './platforms.js';

/**
 * Wiring of the kill switch's adapters from the function environment, once per process. Each
 * saga task builds only what its step needs (and so only reads the variables its `uses` set).
 */
const tokenTtl = (): number => setting('ARX_MAX_TOKEN_TTL_S');

export const store = perEnvironment(
  () => new DynamoTerminationStore(readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE),
);

/** The saga's events commit with the step outcome they announce (outbox in the control table) and are published after. */
export const eventSink = perEnvironment(() => {
  const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
  return new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS));
});

export const inventory = perEnvironment(() => {
  const c = readSettings(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE']);
  // Read-only steps never write, so they need no bus: the outbox is only touched by writes.
  const bus = optionalSetting('ARX_EVENT_BUS');
  const outbox = new Outbox(
    c.ARX_CONTROL_TABLE,
    bus
      ? new EventBridgePublisher(bus)
      : {
          publish: async () => {
            throw new Error('no event bus configured');
          },
        },
  );
  return new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, outbox);
});

export const revocations = perEnvironment(
  () => new DynamoRevocationList(readSettings(['ARX_REVOCATION_TABLE']).ARX_REVOCATION_TABLE),
);

export const platforms = perEnvironment(
  () => new ConfiguredPlatformKillRegistry(readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE),
);

/** The API's dependencies. */
export const apiDeps = perEnvironment((): TerminateDeps => {
  const c = readSettings(['ARX_TERMINATION_STATE_MACHINE_ARN']);
  return {
    clock: systemClock,
    store: store(),
    inventory: inventory(),
    revocations: revocations(),
    starter: new SfnSagaStarter(c.ARX_TERMINATION_STATE_MACHINE_ARN),
    tokenTtlSeconds: tokenTtl(),
    agentState: agentState(),
  };
});

/** Identity's agent credential-state item (status/generation for SVID verifiers), in the control table. */
export const agentState = perEnvironment((): AgentStatePut => {
  const table = readSettings(['ARX_CONTROL_TABLE']).ARX_CONTROL_TABLE;
  return (t, a, state, at) => agentStatePut(table, t, a, state, at);
});

export const stepBase = () => ({ clock: systemClock, store: store() });
export { tokenTtl };
