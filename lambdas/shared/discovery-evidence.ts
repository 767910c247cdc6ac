/**
 * Reporting discovery evidence from another capability's hot path (OTLP ingest, the MCP gateway):
 * a `discovery.evidence` event committed on its own through the transactional outbox (stage, then
 * flush; what the bus refuses stays for the relay). Best effort by design: discovery failing never
 * blocks ingest or enforcement, so a failure or a slow store is logged and the caller goes on.
 */
import type { OutboxEntry, StagedEventSink } from './events.js';
import { newId } from './ids.js';
import { logger } from './observability.js';
import type { DiscoveryEvidenceDetail, DiscoveryEvidenceItem } from './ports.js';
import { traceFrom } from './trace.js';

/** Items per event: keeps one event far below EventBridge's 256 KB entry limit. */
export const EVIDENCE_ITEMS_PER_EVENT = 50;
/** The longest a caller waits for the report (then it goes on; the write may still land). */
export const EVIDENCE_BUDGET_MS = 1500;

/** The outbox entries announcing `items` (chunked, one event per {@link EVIDENCE_ITEMS_PER_EVENT}). */
export function evidenceEntries(
  tenantId: string,
  source: DiscoveryEvidenceDetail['source'],
  origin: string,
  items: readonly DiscoveryEvidenceItem[],
  trace: { correlationId?: string; traceId?: string } = {},
): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (let i = 0; i < items.length; i += EVIDENCE_ITEMS_PER_EVENT) {
    const detail: DiscoveryEvidenceDetail = {
      event_id: newId('evt'),
      tenant_id: tenantId,
      correlation_id: trace.correlationId ?? newId('cor'),
      trace_id: trace.traceId ?? traceFrom(undefined).traceId,
      source,
      origin,
      items: items.slice(i, i + EVIDENCE_ITEMS_PER_EVENT),
    };
    out.push({ detailType: 'discovery.evidence', detail });
  }
  return out;
}

/**
 * Commits and publishes the entries; never throws and waits at most `budgetMs`.
 * @returns `committed` (in the outbox; published now or by the relay), `failed` or `timeout`
 */
export async function reportEvidence(
  sink: StagedEventSink,
  entries: readonly OutboxEntry[],
  at: string,
  budgetMs = EVIDENCE_BUDGET_MS,
): Promise<'committed' | 'failed' | 'timeout' | 'none'> {
  if (!entries.length) return 'none';
  const work = (async () => {
    await sink.stage(entries, at);
    await sink.flush(entries);
    return 'committed' as const;
  })().catch((e: unknown) => {
    logger.warn('discovery evidence not reported', { error_name: (e as Error).name, events: entries.length });
    return 'failed' as const;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budgetMs);
    timer.unref?.();
  });
  const r = await Promise.race([work, late]);
  clearTimeout(timer);
  if (r === 'timeout') logger.warn('discovery evidence report still pending; ingest goes on', { budget_ms: budgetMs });
  return r;
}
