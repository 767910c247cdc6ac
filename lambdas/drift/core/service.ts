/**
 * Drift of agents: the bus consumer folds each decision, denial and execution into the agent's
 * baseline (core/drift.ts) and commits an `agent.drift` event with the state when the score crosses
 * the alert line (up: `alert`, back down: `cleared`); reads answer the report. Pure orchestration
 * over ports, with an injected clock.
 */
import type { Clock } from '../../shared/clock.js';
import type { ArxEventDetail, EventSink, OutboxEntry } from '../../shared/events.js';
import type { DriftContext } from '../../shared/ports.js';
import {
  ALERT_SCORE,
  emptyState,
  observe,
  report,
  type DriftReport,
  type DriftState,
  type Observation,
} from './drift.js';

/** Detail-types the consumer reads. */
export const DRIFT_SOURCE_DETAIL_TYPES = ['policy.decision', 'decision.denied', 'operation.executed'] as const;

/** Port: the per-agent drift state, written with the outbox items of its events in one transaction. */
export interface DriftStore {
  get(tenantId: string, agentId: string): Promise<{ state: DriftState; version: number } | null>;
  /** Writes version `expected + 1` (0: create); false when the stored version moved on (nothing written). */
  put(
    tenantId: string,
    agentId: string,
    state: DriftState,
    expected: number,
    events: readonly OutboxEntry[],
    at: string,
  ): Promise<boolean>;
}

/** The agent's spend so far today (observability's signal); null when none can be read. */
export type DaySpend = (tenantId: string, agentId: string) => Promise<number | null>;

export interface DriftServiceDeps {
  readonly store: DriftStore;
  readonly events: EventSink;
  readonly spend?: DaySpend;
  readonly clock: Clock;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * The observation a bus event makes, or null when it says nothing about an agent's behaviour.
 * Every decision of a decision point (`policy.decision` from the PDP's recorder or an external PEP's
 * enforcement log) is one decision; the actions service's own copy of a forbid (it names the
 * `action_id`) is skipped so a forbid counts once. A human's deny is a denied outcome; an execution
 * only samples the spend.
 */
export function observationOf(
  detailType: string,
  detail: Record<string, unknown>,
  receivedAt: string,
): { tenantId: string; agentId: string; observation: Observation } | null {
  const tenantId = str(detail.tenant_id);
  const agentId = str(detail.agent_id);
  const eventId = str(detail.event_id);
  if (!tenantId || !agentId || !eventId) return null;
  const at = str(detail.occurred_at) ?? str(detail.decided_at) ?? str(detail.updated_at) ?? receivedAt;
  const base = { event_id: `${detailType}#${eventId}`, at: Number.isFinite(Date.parse(at)) ? at : receivedAt };
  switch (detailType) {
    case 'policy.decision': {
      const action = str(detail.action);
      if (!action || str(detail.action_id)) return null;
      return { tenantId, agentId, observation: { ...base, action, denied: detail.effect !== 'permit' } };
    }
    case 'decision.denied':
      return { tenantId, agentId, observation: { ...base, denied: true } };
    case 'operation.executed':
      return { tenantId, agentId, observation: base };
    default:
      return null;
  }
}

/** What a decision point puts in the Cedar context when the drift store is unreachable (fail closed). */
export const UNAVAILABLE_DRIFT: DriftContext = {
  drift: { score: 1, alert: true, warming_up: false, available: false },
};

export class DriftService {
  constructor(private readonly d: DriftServiceDeps) {}

  /**
   * Folds one bus event into the agent's baseline; an `agent.drift` event commits with the state
   * when the score crosses the alert line. Retries on a concurrent update; a redelivery changes nothing.
   */
  async ingest(
    detailType: string,
    detail: Record<string, unknown>,
  ): Promise<{ crossed: 'alert' | 'cleared' | null; report: DriftReport } | null> {
    const now = this.d.clock.now().toISOString();
    const o = observationOf(detailType, detail, now);
    if (!o) return null;
    // Spend moves when something runs: an execution samples it (one counter read), a decision does not.
    const day =
      this.d.spend && detailType === 'operation.executed' && o.observation.at.slice(0, 10) === now.slice(0, 10)
        ? await this.d.spend(o.tenantId, o.agentId).catch(() => null)
        : null;
    const observation: Observation = day === null ? o.observation : { ...o.observation, day_spend_usd: day };
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.d.store.get(o.tenantId, o.agentId);
      const u = observe(cur?.state ?? emptyState(), observation);
      if (u.duplicate) return { crossed: null, report: u.report };
      const events = u.crossed ? [this.driftEvent(o.tenantId, o.agentId, detail, u.crossed, u.report, now)] : [];
      if (await this.d.store.put(o.tenantId, o.agentId, u.state, cur?.version ?? 0, events, now)) {
        if (events.length) await this.d.events.flush(events);
        return { crossed: u.crossed, report: u.report };
      }
    }
    throw new Error(`drift state of ${o.agentId} kept changing under the update`);
  }

  /** The agent's drift now (an agent never seen is warming up, score 0). */
  async get(tenantId: string, agentId: string): Promise<DriftReport & { agent_id: string; updated_at: string | null }> {
    const cur = await this.d.store.get(tenantId, agentId);
    const s = cur?.state ?? emptyState();
    const r = report(s, this.d.clock.now().getTime());
    // An alert stands until a later observation clears it (hysteresis): until then the score is at
    // least the one that raised it, however quiet the agent has been since.
    const score = s.alert ? Math.max(r.score, s.score) : r.score;
    return { agent_id: agentId, ...r, score, alert: s.alert, updated_at: s.last_at ?? null };
  }

  /** The decision context (`context.drift`) for the agent. Throws when the store cannot be read. */
  async context(tenantId: string, agentId: string): Promise<DriftContext> {
    const r = await this.get(tenantId, agentId);
    return { drift: { score: r.score, alert: r.alert, warming_up: r.warming_up, available: true } };
  }

  private driftEvent(
    tenantId: string,
    agentId: string,
    source: Record<string, unknown>,
    state: 'alert' | 'cleared',
    r: DriftReport,
    at: string,
  ): OutboxEntry {
    const trigger = str(source.event_id)!;
    const detail: ArxEventDetail = {
      tenant_id: tenantId,
      event_id: `agent.drift:${agentId}:${trigger}`,
      correlation_id: str(source.correlation_id) ?? trigger,
      trace_id: str(source.trace_id) ?? '',
      agent_id: agentId,
      ...(str(source.action_id) ? { action_id: str(source.action_id) } : {}),
      state,
      score: r.score,
      alert_score: ALERT_SCORE,
      driver: r.driver,
      evidence: { components: r.components, baseline: r.baseline },
      trigger_event_id: trigger,
      at,
    };
    return { detailType: 'agent.drift', detail };
  }
}
