/**
 * The `discovery.evidence` consumer: agents other capabilities saw (OTLP spans naming an unknown
 * `gen_ai.agent.id`, MCP clients that sent `initialize` through the gateway) become evidence of
 * their source, merged into the inventory like any other.
 */
import { z } from 'zod';
import type { TraceIds } from '../../shared/ports.js';
import { discoveredIdOf, mcpHandshakeConfidence, otlpInferenceConfidence, type Evidence } from './discovered.js';
import { ingestEvidence, type DiscoveryDeps, type IngestOutcome } from './service.js';

const text = (max: number) => z.string().min(1).max(max);
const Item = z.object({
  platform: text(64),
  platform_native_id: text(512),
  name: text(256).optional(),
  observed_at: z.iso.datetime({ offset: true }),
  observed_actions: z.number().int().min(0).max(1_000_000).optional(),
  declared_capabilities: z.array(text(200)).max(50).optional(),
  signals: z.array(text(200)).max(20).optional(),
  arx_agent_id: text(200).optional(),
});
const Detail = z.object({
  event_id: text(100),
  tenant_id: text(100),
  correlation_id: text(100),
  trace_id: text(100),
  source: z.enum(['otlp_inference', 'mcp_handshake']),
  origin: text(200),
  items: z.array(Item).min(1).max(200),
});
export type EvidenceEventDetail = z.infer<typeof Detail>;

/** Validates an event's detail; null for a malformed one (dropped with a log, never retried). */
export function parseEvidenceEvent(detail: unknown): EvidenceEventDetail | null {
  const r = Detail.safeParse(detail);
  return r.success ? r.data : null;
}

/** Port: is `id` an ARX identity (a registered agent id) of the tenant? */
export type ArxAgentLookup = (tenantId: string, id: string) => Promise<boolean>;

/**
 * Applies one `discovery.evidence` event. OTLP items that name an ARX identity (registered, or its
 * SPIFFE id) are not discovery: they are skipped. An OTLP item's confidence rises with the spans
 * seen; an MCP handshake presented with an SVID is that agent's record (sanctioned through it).
 * Delivery is at least once: a re-delivery refreshes the same record (span counts may count twice,
 * never a second record).
 */
export async function applyEvidenceEvent(
  deps: Pick<DiscoveryDeps, 'store' | 'clock'>,
  isArxAgent: ArxAgentLookup,
  d: EvidenceEventDetail,
): Promise<IngestOutcome & { skipped: number }> {
  const evidence: Evidence[] = [];
  let skipped = 0;
  for (const it of d.items) {
    if (d.source === 'otlp_inference') {
      if (it.platform_native_id.startsWith('spiffe://') || (await isArxAgent(d.tenant_id, it.platform_native_id))) {
        skipped++;
        continue;
      }
      const current = await deps.store.get(
        d.tenant_id,
        discoveredIdOf(d.tenant_id, it.platform, it.platform_native_id),
      );
      evidence.push({
        ...base(it, d),
        confidence: otlpInferenceConfidence((current?.observed_actions_30d ?? 0) + (it.observed_actions ?? 0)),
      });
    } else {
      evidence.push({
        ...base(it, d),
        confidence: mcpHandshakeConfidence(Boolean(it.arx_agent_id)),
        ...(it.arx_agent_id ? { arx_agent_id: it.arx_agent_id } : {}),
      });
    }
  }
  const trace: TraceIds = { correlationId: d.correlation_id, traceId: d.trace_id };
  const out = evidence.length
    ? await ingestEvidence(deps, d.tenant_id, evidence, `discovery:${d.source}`, trace)
    : { found: 0, new: 0, changed: 0, ids: [] };
  return { ...out, skipped };
}

function base(it: EvidenceEventDetail['items'][number], d: EvidenceEventDetail) {
  return {
    platform: it.platform,
    platform_native_id: it.platform_native_id,
    source: d.source,
    origin: d.origin,
    observed_at: it.observed_at,
    ...(it.name ? { name: it.name } : {}),
    ...(it.observed_actions ? { observed_actions: it.observed_actions } : {}),
    ...(it.declared_capabilities ? { declared_capabilities: it.declared_capabilities } : {}),
    ...(it.signals ? { signals: it.signals } : {}),
  } satisfies Partial<Evidence>;
}
