import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { perEnvironment, readSettings, type SettingName } from '../../shared/settings.js';
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore, identityService } from '../../identity/index.js';
import type { DiscoveryDeps } from '../core/service.js';
import { awsSources, defaultClientFactory, type ClientFactory } from './aws-sources.js';
import { DynamoDiscoveryControl, DynamoDiscoveryStore } from './dynamo-discovery-store.js';

let clientFactory: ClientFactory = defaultClientFactory;
/**
 * Replaces how the scan builds its AWS SDK clients (tests hand in clients with emulator-specific
 * middleware, per convention 3); bound late, so it applies to an already-wired process too.
 */
export function setClientFactory(f: ClientFactory): void {
  clientFactory = f;
}

/**
 * The discovery capability wired from the environment (ARX_INVENTORY_TABLE, ARX_CONTROL_TABLE,
 * ARX_EVENT_BUS), once per process. Adoption goes through the identity capability's public
 * service (`identityService().registerAgent`), never its adapters.
 */
export const DISCOVERY_SETTINGS = [
  'ARX_INVENTORY_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_EVENT_BUS',
] as const satisfies readonly SettingName[];

export const discovery = perEnvironment(() => {
  const c = readSettings(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
  const publisher = new EventBridgePublisher(c.ARX_EVENT_BUS);
  const outbox = new Outbox(c.ARX_CONTROL_TABLE, publisher);
  const control = new DynamoDiscoveryControl(c.ARX_CONTROL_TABLE);
  const sts = new STSClient({});
  const deps: DiscoveryDeps & { control: DynamoDiscoveryControl } = {
    store: new DynamoDiscoveryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, outbox),
    control,
    clock: systemClock,
    sources: awsSources((src) => clientFactory(src)),
    identity: { register: (caller, input, trace) => identityService().registerAgent(caller, input, trace) },
  };
  return {
    deps,
    /** Publishes what a handler committed to the outbox (the relay sends what this could not). */
    outbox,
    /** Registered agents (ARX identities), for the combined listing. */
    registered: new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, outbox),
    /** The account this deployment runs in (an aws_account source without a role scans it). */
    ownAccount: async (): Promise<string> => (await sts.send(new GetCallerIdentityCommand({}))).Account!,
  };
});
