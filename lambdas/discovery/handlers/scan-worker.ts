import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { newId } from '../../shared/ids.js';
import { logger } from '../../shared/observability.js';
import { discovery, DISCOVERY_SETTINGS } from '../adapters/deps.js';
import { runScan, type ScanRecord } from '../core/service.js';
import type { SourceConfig } from '../core/sources.js';
import { handlerSettings } from '../../shared/settings.js';

type Detail = { tenant_id?: unknown; scan_id?: unknown };

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DISCOVERY_SETTINGS);

/**
 * Runs scans: a `discovery.scan.requested` event runs that queued scan (a re-delivery of a scan
 * already started is skipped); the schedule scans every AWS source of every tenant.
 */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Detail>) => {
  const { deps } = discovery();
  if (event['detail-type'] === 'discovery.scan.requested') {
    const tenantId = typeof event.detail?.tenant_id === 'string' ? event.detail.tenant_id : '';
    const scanId = typeof event.detail?.scan_id === 'string' ? event.detail.scan_id : '';
    const scan = tenantId && scanId ? await deps.control.getScan(tenantId, scanId) : null;
    if (scan?.status !== 'queued') {
      logger.info('scan request skipped', { scan_id: scanId, status: scan?.status ?? 'unknown' });
      return;
    }
    const sources = scan.source_id
      ? [await deps.control.getSource(tenantId, scan.source_id)].filter((s): s is SourceConfig => s !== null)
      : await deps.control.listSources(tenantId);
    const done = await runScan(deps, scan, sources);
    logger.info('scan finished', {
      scan_id: scanId,
      status: done.status,
      found: done.found,
      new: done.new,
      changed: done.changed,
    });
    return;
  }
  // Scheduled: one scan per tenant over all its AWS sources.
  const byTenant = new Map<string, SourceConfig[]>();
  for (const s of await deps.control.allScannableSources())
    byTenant.set(s.tenant_id, [...(byTenant.get(s.tenant_id) ?? []), s]);
  for (const [tenantId, sources] of byTenant) {
    const now = deps.clock.now();
    const scan: ScanRecord = {
      tenant_id: tenantId,
      scan_id: newId('scn', now),
      status: 'queued',
      found: 0,
      new: 0,
      changed: 0,
      errors: [],
      requested_at: now.toISOString(),
      requested_by: 'schedule',
    };
    await deps.control.putScan(scan);
    try {
      const done = await runScan(deps, scan, sources);
      logger.info('scheduled scan finished', {
        tenant_id: tenantId,
        scan_id: scan.scan_id,
        status: done.status,
        found: done.found,
      });
    } catch (e) {
      // One tenant's failure never stops the others; its lag shows in /v1/discovery/status.
      logger.error('scheduled scan failed', { tenant_id: tenantId, error: e as Error });
    }
  }
});
