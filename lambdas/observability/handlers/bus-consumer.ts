import type { EventBridgeEvent } from 'aws-lambda';
import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import type { EncryptedPayload } from '../../audit/index.js';
import { BUS_SETTINGS, busDeps } from '../adapters/deps.js';
import { recordActionEvent } from '../core/arx-spans.js';
import { EXPORT_AAD, exportSpans, type ExportConfig } from '../core/export.js';
import { handlerSettings } from '../../shared/settings.js';
import { exportFetch } from '../adapters/outbound.js';

const cache = new Map<string, { at: number; cfg: ExportConfig | null }>();
/** The tenant's export settings, cached 30 s per process (5 s when none) (headers decrypted with the tenant data key). */
async function exportConfig(tenantId: string): Promise<ExportConfig | null> {
  const hit = cache.get(tenantId);
  if (hit && Date.now() - hit.at < (hit.cfg ? 30_000 : 5_000)) return hit.cfg;
  const d = busDeps();
  const raw = await d.spans.getExport(tenantId);
  const cfg = raw
    ? {
        endpoint: raw.endpoint,
        protocol: raw.protocol as ExportConfig['protocol'],
        headers: JSON.parse(
          Buffer.from(await d.cipher.decrypt(tenantId, EXPORT_AAD, raw.headers_enc as EncryptedPayload)).toString(
            'utf8',
          ),
        ) as Record<string, string>,
      }
    : null;
  cache.set(tenantId, { at: Date.now(), cfg });
  return cfg;
}

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(BUS_SETTINGS);

/**
 * Writes ARX's own spans (decision → approval → execution) from the action events (idempotent),
 * then forwards them to the tenant's OTLP endpoint when one is configured. A failed export throws:
 * the bus redelivers and the consumer's dead-letter queue keeps the event.
 */
export const handler = createJobHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>) => {
  const r = await recordActionEvent(
    busDeps().spans,
    event['detail-type'],
    event.detail ?? {},
    event.time ?? new Date().toISOString(),
  );
  logger.info('arx spans recorded', { detail_type: event['detail-type'], spans: r.spans.length });
  const tenant = typeof event.detail?.tenant_id === 'string' ? event.detail.tenant_id : null;
  if (!tenant || !r.spans.length) return;
  // Cold copy (Parquet, by day, trace-id index) under the event id: a redelivery overwrites the same file.
  await busDeps().cold.putBatch(tenant, `arx-${String(event.id ?? r.spans[0]!.span_id)}`, r.spans);
  const cfg = await exportConfig(tenant);
  if (cfg) {
    const out = await exportSpans(cfg, r.spans, { fetch: exportFetch() });
    logger.info('arx spans exported', { spans: r.spans.length, attempts: out.attempts });
  }
});
