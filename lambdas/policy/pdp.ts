/**
 * The in-process PDP for other capabilities (actions, the SDK gateway): one call builds a
 * DecisionPoint over the tenant's live bundle in S3, the revocation table (REVOCATION_CACHE_MS window) and the
 * tenant's own public keys (each bundle verifies only with its tenant's key); it reloads on a ≤ 30 s poll and fails closed.
 *
 * @example
 * const pdp = createDecisionPoint();
 * const d = await pdp.decide({ tenantId, principal: { type: 'Agent', id }, action: 'okta:users:deactivate' });
 * if (d.effect === 'permit' && d.approval === 'hitl') { … }
 */
import { optionalSetting, readSettings, setting, type SettingName } from '../shared/settings.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../shared/revocation.js';
import { EventBridgePublisher } from '../shared/events.js';
import type { DecisionPoint, RevocationStatus } from '../shared/ports.js';
import { TenantBundlePdp, type BundleSource, type DecisionRecorder } from './core/decision-point.js';
import type { OfflineRevocationMode } from './core/decide.js';
import { TenantBundleSigner, type BundleSigner } from './core/signing.js';
import { EnforcementRecorder } from './core/service.js';
import { S3BundleStore } from './adapters/s3-bundles.js';
import { DynamoEnforcementLog } from './adapters/dynamo-control.js';
import { Outbox } from '../shared/outbox.js';
import { DynamoInventoryReader } from './adapters/dynamo-inventory-reader.js';
import { CachedPrincipalStatus, type PrincipalStatusPort } from './core/principal-status.js';
import { logger } from '../shared/observability.js';
import { tenantSigner } from '../identity/index.js';

export interface CreateDecisionPointOptions {
  /** Live-bundle source. @default S3 bundle bucket (ARX_BUNDLE_BUCKET) */
  readonly source?: BundleSource;
  /** Signature verifier. @default the bundle tenant's own keys from the key registry (ARX_CONTROL_TABLE) */
  readonly signer?: Pick<BundleSigner, 'verify'>;
  /** @default CachedRevocationChecker over ARX_REVOCATION_TABLE (REVOCATION_CACHE_MS window) */
  readonly revocation?: RevocationStatus;
  /** @default CachedPrincipalStatus over ARX_INVENTORY_TABLE (REVOCATION_CACHE_MS window) */
  readonly principals?: PrincipalStatusPort;
  readonly clock?: Clock;
  /** @default 30000 */
  readonly pollMs?: number;
  /** @default 'forbid' */
  readonly offlineRevocation?: OfflineRevocationMode;
  /**
   * Records each decision (EnforcementEvent + `policy.decision`). `true` builds the default from
   * ARX_CONTROL_TABLE and ARX_EVENT_BUS. @default true when both variables are set
   */
  readonly recorder?: DecisionRecorder | boolean;
  /** @default 'in-process' */
  readonly pepTopology?: string;
}

/**
 * What {@link createDecisionPoint} reads: the bundle tenant's keys come from the key registry in
 * ARX_CONTROL_TABLE (the decision recorder also uses ARX_CONTROL_TABLE and ARX_EVENT_BUS when set).
 */
export const PDP_SETTINGS = [
  'ARX_BUNDLE_BUCKET',
  'ARX_REVOCATION_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_ORPHAN_GRACE_SECONDS',
] as const satisfies readonly SettingName[];

/**
 * The principal-status port every decision point uses: the inventory table read through a
 * REVOCATION_CACHE_MS window; orphans are refused past ARX_ORPHAN_GRACE_SECONDS (default 7 days).
 */
export function inventoryPrincipalStatus(table: string, clock: Clock = systemClock): CachedPrincipalStatus {
  return new CachedPrincipalStatus(new DynamoInventoryReader(table), clock, {
    orphanGraceS: setting('ARX_ORPHAN_GRACE_SECONDS'),
  });
}

/** Logs a decision point's internal failure (never returned to the caller). */
export const logDecisionPointError = (e: { tenantId: string; error: unknown }): void => {
  logger.error('decision point failure', {
    tenant_id: e.tenantId,
    error: e.error instanceof Error ? e.error.message : String(e.error),
  });
};

export function createDecisionPoint(o: CreateDecisionPointOptions = {}): DecisionPoint & TenantBundlePdp {
  const clock = o.clock ?? systemClock;
  const source = o.source ?? new S3BundleStore(readSettings(['ARX_BUNDLE_BUCKET']).ARX_BUNDLE_BUCKET);
  const signer = o.signer ?? new TenantBundleSigner(tenantSigner());
  const revocation =
    o.revocation ??
    new CachedRevocationChecker(
      new DynamoRevocationList(readSettings(['ARX_REVOCATION_TABLE']).ARX_REVOCATION_TABLE),
      clock,
    );
  const principals =
    o.principals ?? inventoryPrincipalStatus(readSettings(['ARX_INVENTORY_TABLE']).ARX_INVENTORY_TABLE, clock);
  let recorder: DecisionRecorder | undefined;
  if (typeof o.recorder === 'object') recorder = o.recorder;
  else if (o.recorder !== false && optionalSetting('ARX_CONTROL_TABLE') && optionalSetting('ARX_EVENT_BUS')) {
    const publisher = new EventBridgePublisher(setting('ARX_EVENT_BUS'));
    recorder = new EnforcementRecorder(
      new DynamoEnforcementLog(setting('ARX_CONTROL_TABLE'), clock),
      publisher,
      clock,
      new Outbox(setting('ARX_CONTROL_TABLE'), publisher),
    );
  } else if (o.recorder === true) {
    const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
    const publisher = new EventBridgePublisher(c.ARX_EVENT_BUS);
    recorder = new EnforcementRecorder(
      new DynamoEnforcementLog(c.ARX_CONTROL_TABLE, clock),
      publisher,
      clock,
      new Outbox(c.ARX_CONTROL_TABLE, publisher),
    );
  }
  return new TenantBundlePdp({
    source,
    signer,
    revocation,
    principals,
    clock,
    onError: logDecisionPointError,
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
    ...(o.offlineRevocation ? { offlineRevocation: o.offlineRevocation } : {}),
    ...(recorder ? { recorder } : {}),
    pepTopology: o.pepTopology ?? 'in-process',
  });
}
