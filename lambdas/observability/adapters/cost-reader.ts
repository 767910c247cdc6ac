import { daysBetween } from '../core/traces.js';
import { totals } from '../core/usage.js';
import type { SpanRecord } from '../core/model.js';
import { DynamoSpanStore } from './dynamo-span-store.js';

export interface AgentDayCost {
  readonly day: string;
  readonly agent_id: string;
  readonly usd: number;
  readonly spans: number;
}

/**
 * Cost per agent per UTC day of the spans that started in [from, to), read from the hot store's
 * day partitions (spans without an agent count as `unattributed`).
 */
export function createCostReader(tracesTable: string): {
  perAgentPerDay(tenantId: string, from: string, to: string): Promise<AgentDayCost[]>;
} {
  const spans = new DynamoSpanStore(tracesTable);
  return {
    async perAgentPerDay(tenantId, from, to) {
      const out: AgentDayCost[] = [];
      for (const day of daysBetween(from, to)) {
        const groups = new Map<string, SpanRecord[]>();
        for (const s of await spans.spansByDay(tenantId, day, from, to)) {
          if (s.start_time < from || s.start_time >= to) continue;
          const k = s.agent_id ?? 'unattributed';
          groups.set(k, [...(groups.get(k) ?? []), s]);
        }
        for (const [agent_id, ss] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
          const t = totals(ss);
          out.push({ day, agent_id, usd: t.usd, spans: t.spans });
        }
      }
      return out;
    },
  };
}
