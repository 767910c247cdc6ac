/**
 * Discovery evidence from OTLP ingest: spans whose `gen_ai.agent.id` (the GenAI semantic
 * conventions' agent attribute) names an agent ARX does not know. Kept cheap for the hot path:
 * one item per agent per batch, and a short per-process cache of ids already known or reported,
 * so a steady stream of spans costs one inventory read and one event per agent per TTL.
 */
import type { DiscoveryEvidenceItem } from '../../shared/ports.js';
import { GEN_AI } from './semconv.js';
import type { SpanRecord } from './model.js';

/** The platform of an agent known only by the `gen_ai.agent.id` its spans carry. */
export const OTEL_PLATFORM = 'otel';
const MAX_CAPABILITIES = 20;
const MAX_LEN = 200;

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/**
 * One evidence item per `gen_ai.agent.id` named by the accepted spans of a batch sent by a tenant
 * admin (a collector). Spans an agent sends with its SVID are its own (ingest rejects the others),
 * so they never name an unknown agent.
 */
export function agentsNamedBy(records: readonly SpanRecord[], caller: { agentId?: string }): DiscoveryEvidenceItem[] {
  if (caller.agentId) return [];
  const by = new Map<string, { name?: string; first: string; spans: number; ops: Set<string>; service?: string }>();
  for (const r of records) {
    const id = r.agent_id;
    if (!id || (str(r.attributes[GEN_AI.agentId]) ?? str(r.resource[GEN_AI.agentId])) !== id) continue;
    if (id.length > 512) continue;
    let e = by.get(id);
    if (!e) {
      e = { first: r.start_time, spans: 0, ops: new Set() };
      by.set(id, e);
    }
    e.spans++;
    if (r.start_time < e.first) e.first = r.start_time;
    e.name ??= str(r.attributes[GEN_AI.agentName]) ?? str(r.resource[GEN_AI.agentName]) ?? undefined;
    e.service ??= str(r.resource['service.name']) ?? undefined;
    if (r.operation && e.ops.size < MAX_CAPABILITIES) e.ops.add(`gen_ai:${r.operation}`.slice(0, MAX_LEN));
  }
  return [...by.entries()].map(([id, e]) => ({
    platform: OTEL_PLATFORM,
    platform_native_id: id,
    ...(e.name ? { name: e.name.slice(0, 256) } : {}),
    observed_at: e.first,
    observed_actions: e.spans,
    ...(e.ops.size ? { declared_capabilities: [...e.ops].sort() } : {}),
    signals: [`otel:${GEN_AI.agentId}`, ...(e.service ? [`otel:service.name=${e.service}`.slice(0, MAX_LEN)] : [])],
  }));
}

interface Entry {
  known: boolean;
  until: number;
  /** Spans seen while the entry suppressed reports: carried by the next report. */
  pending: number;
}

/**
 * Which agents of a batch to report: ids that are ARX identities (the lookup) are dropped and
 * remembered for `ttlMs`; an unknown id is reported once per `ttlMs` (later spans in that window
 * are added to the next report). A lookup that fails counts as unknown: discovery checks again.
 */
export class AgentEvidenceFilter {
  private readonly entries = new Map<string, Entry>();
  constructor(
    private readonly isArxAgent: (tenantId: string, id: string) => Promise<boolean>,
    private readonly now: () => number,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  async toReport(tenantId: string, items: readonly DiscoveryEvidenceItem[]): Promise<DiscoveryEvidenceItem[]> {
    const out: DiscoveryEvidenceItem[] = [];
    const t = this.now();
    const fresh: { key: string; item: DiscoveryEvidenceItem; carried: number }[] = [];
    for (const item of items) {
      const key = `${tenantId}\n${item.platform_native_id}`;
      const e = this.entries.get(key);
      if (e && e.until > t) {
        if (!e.known) e.pending += item.observed_actions ?? 0;
        continue;
      }
      fresh.push({ key, item, carried: e && !e.known ? e.pending : 0 });
    }
    const known = await Promise.all(
      fresh.map(({ item }) => this.isArxAgent(tenantId, item.platform_native_id).catch(() => false)),
    );
    fresh.forEach(({ key, item, carried }, i) => {
      this.remember(key, { known: known[i]!, until: t + this.ttlMs, pending: 0 });
      if (!known[i]) out.push({ ...item, observed_actions: (item.observed_actions ?? 0) + carried });
    });
    return out;
  }

  private remember(key: string, e: Entry): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, e);
  }
}
