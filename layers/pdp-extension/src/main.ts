/**
 * ARX PDP Lambda extension (external). Registered through the Extensions API; during INIT it loads
 * and verifies the tenant's live bundle and the revocation list, then answers decisions for the
 * function on http://127.0.0.1:$ARX_PDP_PORT/v1/decide. It re-checks the live manifest every
 * 30 s (conditional GET), keeps the last-known-good bundle when a new one fails signature or
 * validation, and reads revocation deltas at least every second (re-reading 60 s behind its
 * high-water mark, and the whole list every ARX_PDP_REVOCATION_RESYNC_MS, F2). Offline `bloom`
 * mode (ARX_PDP_OFFLINE_REVOCATION) trusts the bundle's filter for at most
 * ARX_PDP_OFFLINE_BLOOM_MAX_AGE_S after the push (F20).
 */
import { optionalSetting, readSettings, setting, SETTINGS } from '../../../lambdas/shared/settings.js';
import { EXTENSION_SETTINGS } from './settings.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import {
  CachedPrincipalStatus,
  DynamoInventoryReader,
  S3BundleStore,
  TenantBundlePdp,
  TenantBundleSigner,
} from '../../../lambdas/policy/index.js';
import { ApiEnforcementRecorder } from './api-recorder.js';
import { DeltaRevocationCache, revocationPollPeriod } from './revocation-cache.js';
import { ExtensionsApi } from './extension-api.js';
import { BoundIdentity, startPdpServer, SvidIdentity, type CallerIdentity } from './server.js';
import { SvidVerifier } from '../../../lambdas/identity/index.js';
import { PublishedTenantKeys } from './tenant-keys.js';

export const EXTENSION_NAME = 'arx-pdp';
export const DEFAULT_PDP_PORT: number = SETTINGS.ARX_PDP_PORT.default;
/** Preparsed policy sets the extension keeps: sized for a 256 MB function. */
export const DEFAULT_SET_CACHE: number = SETTINGS.ARX_PDP_SET_CACHE.default;

const log = (msg: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ level: 'info', extension: EXTENSION_NAME, msg, ...extra })}\n`);
};

async function main(): Promise<void> {
  const api = new ExtensionsApi(readSettings(['AWS_LAMBDA_RUNTIME_API']).AWS_LAMBDA_RUNTIME_API);
  await api.register(EXTENSION_NAME, ['INVOKE', 'SHUTDOWN']);
  let stop: () => Promise<void>;
  try {
    stop = await init();
  } catch (e) {
    await api.initError('Extension.InitFailed', (e as Error).message);
    throw e;
  }
  for (;;) {
    const ev = await api.next();
    if (ev.eventType === 'SHUTDOWN') {
      await stop();
      process.exit(0);
    }
  }
}

/**
 * F21a: the function is bound to one agent (ARX_AGENT_ID) or every request carries its SVID,
 * verified with the tenant JWKS published under ARX_SVID_ISSUER_BASE.
 */
function callerIdentity(tenantId: string, base: string, keys: PublishedTenantKeys): CallerIdentity {
  const agentId = optionalSetting('ARX_AGENT_ID');
  if (agentId) return new BoundIdentity(agentId);
  const verifier = new SvidVerifier({
    issuerBase: base,
    clock: systemClock,
    fetchJwks: async (t) => (await keys.jwks(t)) as never,
  });
  return new SvidIdentity(verifier, tenantId);
}

async function init(): Promise<() => Promise<void>> {
  // ARX_SVID_ISSUER_BASE: where ARX publishes the tenant's keys (bundle signatures and SVIDs)
  const c = readSettings(EXTENSION_SETTINGS);
  const keys = new PublishedTenantKeys(c.ARX_SVID_ISSUER_BASE);
  const port = setting('ARX_PDP_PORT');
  const manifestPollMs = setting('ARX_PDP_MANIFEST_POLL_MS');
  const windowMs = setting('ARX_PDP_REVOCATION_WINDOW_MS');
  const revocationPollMs = revocationPollPeriod(setting('ARX_PDP_REVOCATION_POLL_MS'), windowMs);
  const offline = setting('ARX_PDP_OFFLINE_REVOCATION');
  const clock = systemClock;
  const tenantId = c.ARX_TENANT_ID;

  const revocation = new DeltaRevocationCache(
    new DynamoRevocationList(c.ARX_REVOCATION_TABLE),
    tenantId,
    clock,
    windowMs,
    1000,
    {
      resyncMs: setting('ARX_PDP_REVOCATION_RESYNC_MS'),
    },
  );
  // F14: decisions are recorded through the authenticated API with the caller's SVID; the agent
  // function's role never gets the control table or the bus
  const apiUrl = optionalSetting('ARX_API_URL');
  const recorder = apiUrl ? new ApiEnforcementRecorder(apiUrl, clock) : undefined;
  const pdp = new TenantBundlePdp({
    source: new S3BundleStore(c.ARX_BUNDLE_BUCKET),
    // the bundle verifies only with this tenant's own published keys
    signer: new TenantBundleSigner(keys),
    revocation,
    principals: new CachedPrincipalStatus(new DynamoInventoryReader(c.ARX_INVENTORY_TABLE), clock, {
      orphanGraceS: setting('ARX_ORPHAN_GRACE_SECONDS'),
    }),
    clock,
    // the extension polls on its own schedule; decisions never wait for a manifest check
    pollMs: Number.MAX_SAFE_INTEGER,
    offlineRevocation: offline,
    bloomMaxAgeMs: setting('ARX_PDP_OFFLINE_BLOOM_MAX_AGE_S') * 1000,
    pepTopology: 'lambda-extension',
    setCacheSize: setting('ARX_PDP_SET_CACHE'),
    ...(recorder ? { recorder } : {}),
    onEvent: (e) =>
      log(`bundle ${e.type}`, {
        tenant_id: e.tenantId,
        detail: e.detail,
        ...(e.ms !== undefined ? { ms: Math.round(e.ms * 10) / 10 } : {}),
      }),
  });

  const t0 = performance.now();
  await Promise.all([pdp.refresh(tenantId), revocation.poll()]);
  const live = await pdp.live(tenantId);
  log('init', {
    bundle_version: live?.content.version ?? null,
    revoked: revocation.size,
    ms: Math.round(performance.now() - t0),
    last_error: pdp.lastError(tenantId),
  });

  const server = await startPdpServer(
    {
      tenantId,
      pdp,
      identity: callerIdentity(tenantId, c.ARX_SVID_ISSUER_BASE, keys),
      health: () => ({
        tenant_id: tenantId,
        bundle_version: liveVersion,
        bundle_error: pdp.lastError(tenantId),
        revoked: revocation.size,
        revocation_age_ms: revocation.age(),
        revocation_error: revocation.lastError,
        rss_bytes: process.memoryUsage().rss,
      }),
    },
    port,
  );
  let liveVersion: number | null = live?.content.version ?? null;
  const manifestTimer = setInterval(() => {
    void pdp.refresh(tenantId).then(async () => {
      liveVersion = (await pdp.live(tenantId))?.content.version ?? null;
    });
  }, manifestPollMs);
  const revocationTimer = setInterval(() => void revocation.poll(), revocationPollMs);
  const flushTimer = recorder ? setInterval(() => void recorder!.flush(), 1000) : null;

  return async () => {
    clearInterval(manifestTimer);
    clearInterval(revocationTimer);
    if (flushTimer) clearInterval(flushTimer);
    await recorder?.flush();
    await new Promise<void>((r) => server.close(() => r()));
    log('shutdown', { dropped_decisions: recorder?.dropped ?? 0 });
  };
}

main().catch((e: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', extension: EXTENSION_NAME, msg: (e as Error).message })}\n`);
  process.exit(1);
});
