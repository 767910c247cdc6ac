import { optionalSetting, perEnvironment, readSettings, setting, type SettingName } from '../../shared/settings.js';
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../../shared/revocation.js';
import { createDecisionPoint, PDP_SETTINGS } from '../../policy/index.js';
import { AUDIT_SINK_SETTINGS, createAuditSink } from '../../audit/index.js';
import { createSpendGate } from '../../observability/index.js';
import { createDriftReader } from '../../drift/index.js';
import { BROKER_SETTINGS, credentialBrokerFromEnv } from '../../identity/index.js';
import { CONNECTORS } from '../connectors/index.js';
import { withMcpConnectors } from '../connectors/mcp.js';
import type { CredentialBroker } from '../core/model.js';
import type { DecisionPoint, RevocationStatus } from '../../shared/ports.js';
import { ActionService, type ActionServiceDeps } from '../core/service.js';
import { ApprovalCallbacks } from '../core/callbacks.js';
import { DynamoActionStore } from './dynamo-action-store.js';
import { InventoryAgentDirectory } from './directory.js';
import { ChannelNotifier, sesSendersFromEnv } from './notifiers.js';
import { guardedFetch, runningLocally } from './outbound.js';
import { SecretsManagerStore } from './secrets.js';
import { DurableAudit } from '../core/durable-audit.js';
import { DynamoPendingAuditStore } from './dynamo-pending-audit.js';
import { actionsLog } from './drainer.js';

/** The identity capability's credential broker (STS with a per-action session policy), built on first use. */
const lazyBroker: CredentialBroker = {
  awsCredentials: (req) => credentialBrokerFromEnv().awsCredentials(req),
};

/** The in-process PDP, built on first use (a build failure is a PDP error: the action is forbidden). */
function lazyPdp(revocation: RevocationStatus): DecisionPoint {
  let pdp: DecisionPoint | undefined;
  return {
    decide: async (req) => {
      pdp ??= createDecisionPoint({ revocation });
      return pdp.decide(req);
    },
  };
}

/**
 * What {@link actionsDeps} reads. ARX_TRACES_TABLE is optional here (the spend gate is wired where
 * the table is bound), so the actions handlers declare it themselves.
 */
export const ACTIONS_SETTINGS = [
  'ARX_CONTROL_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_EVENT_BUS',
  'ARX_DATA_KEY_ARN',
  'ARX_SECRET_PREFIX',
  'ARX_SLACK_API_BASE',
  'ARX_PUBLIC_API_URL',
  'ARX_SES_SENDERS',
  ...PDP_SETTINGS,
  ...AUDIT_SINK_SETTINGS,
  ...BROKER_SETTINGS,
] as const satisfies readonly SettingName[];

/** Wires the actions capability from the function's environment, once per environment. */
export const actionsDeps = perEnvironment(() => {
  const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_INVENTORY_TABLE', 'ARX_REVOCATION_TABLE', 'ARX_EVENT_BUS']);
  const store = new DynamoActionStore(c.ARX_CONTROL_TABLE);
  const secrets = new SecretsManagerStore(undefined, optionalSetting('ARX_DATA_KEY_ARN'));
  const publicUrl = optionalSetting('ARX_PUBLIC_API_URL');
  const traces = optionalSetting('ARX_TRACES_TABLE');
  const clock = systemClock;
  const log = actionsLog;
  // F22: connectors and notifiers never reach private/loopback targets (except against an emulator) nor follow redirects.
  const outbound = guardedFetch({ allowPrivate: runningLocally() });
  const senders = sesSendersFromEnv();
  const audit = createAuditSink();
  const durableAudit = new DurableAudit({
    recordOnce: (input, key) =>
      audit
        .recorder()
        .recordEvent(input, key)
        .then(() => undefined),
    pending: new DynamoPendingAuditStore(c.ARX_CONTROL_TABLE),
    now: () => clock.now(),
    log,
  });
  // One revocation cache for the service's checks and its in-process PDP (same window, one read).
  const revocation = new CachedRevocationChecker(new DynamoRevocationList(c.ARX_REVOCATION_TABLE), clock);
  const deps: ActionServiceDeps = {
    store,
    pdp: lazyPdp(revocation),
    revocation,
    agents: new InventoryAgentDirectory(c.ARX_INVENTORY_TABLE),
    audit,
    durableAudit,
    events: new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS)),
    connectors: withMcpConnectors(CONNECTORS),
    configs: store,
    secrets,
    credentials: lazyBroker,
    fetch: outbound,
    notifier: new ChannelNotifier({
      configs: store,
      secrets,
      clock,
      log,
      fetch: outbound,
      links: store,
      senders,
      slackApiBase: setting('ARX_SLACK_API_BASE'),
      ...(publicUrl ? { publicUrl } : {}),
    }),
    clock,
    log,
    ...(traces ? { spend: createSpendGate(traces, c.ARX_INVENTORY_TABLE) } : {}),
    drift: createDriftReader(c.ARX_CONTROL_TABLE),
  };
  const service = new ActionService(deps);
  const callbacks = new ApprovalCallbacks({
    service,
    store,
    secrets,
    replay: store,
    clock,
    approvers: store,
    links: store,
    configs: store,
  });
  return { service, callbacks, store, secrets, deps, senders, durableAudit };
});
