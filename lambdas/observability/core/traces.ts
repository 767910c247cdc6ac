/**
 * The single queryable trace (C5.3): the trace's spans (agent and ARX) joined with ARX's own
 * records of the governed actions in it — decisions, approvals, actions, audit events — and cost.
 * A store that fails or lacks a piece makes the answer `partial: true` with that piece named in
 * `missing`; enforcement decisions come from the action records and the action events, so a
 * missing span never hides one.
 */
import { NotFoundError } from '../../shared/errors.js';
import { HOT_RETENTION_DAYS, type ActionLink, type SpanRecord, type SpanStore } from './model.js';

/** What the join reads from actions and audit (adapters over their stores). */
export interface ActionLookup {
  getAction(tenantId: string, actionId: string): Promise<Record<string, unknown> | null>;
  getApproval(tenantId: string, approvalId: string): Promise<Record<string, unknown> | null>;
}
export interface AuditLookup {
  /** Audit events of `agentId` carrying `traceId` (bounded scan of the agent's newest events). */
  eventsForTrace(
    tenantId: string,
    agentId: string,
    traceId: string,
  ): Promise<{ items: Record<string, unknown>[]; complete: boolean }>;
}

/** The columns a cold search reads of each span (never the whole record). */
export type ColdSpanSummary = Pick<
  SpanRecord,
  'trace_id' | 'span_id' | 'start_time' | 'agent_id' | 'source' | 'operation' | 'model' | 'tool_name' | 'cost_usd'
> & { readonly approval_id: string | null };

/** Cold copies (S3 Parquet, partitioned by tenant and day, trace-id index): read when the hot store has expired a trace. */
export interface ColdLookup {
  traceSpans(tenantId: string, traceId: string): Promise<SpanRecord[]>;
  /** The spans of one day partition (summary columns), optionally of one agent. */
  searchDay(tenantId: string, day: string, agentId?: string): Promise<ColdSpanSummary[]>;
}

/** Links rebuilt from ARX's own spans in a cold copy (the hot link items expire with the spans). */
function linksFromArxSpans(tenantId: string, traceId: string, spans: readonly SpanRecord[]): ActionLink[] {
  const byAction = new Map<string, ActionLink>();
  for (const s of spans) {
    const id = s.source === 'arx' ? s.attributes['arx.action.id'] : undefined;
    if (typeof id !== 'string' || !s.agent_id) continue;
    const approval = s.attributes['arx.approval.id'];
    const prev = byAction.get(id);
    const decision = s.attributes['arx.decision'];
    byAction.set(id, {
      tenant_id: tenantId,
      trace_id: traceId,
      action_id: id,
      agent_id: s.agent_id,
      approval_id: (typeof approval === 'string' ? approval : null) ?? prev?.approval_id ?? null,
      events: [
        ...(prev?.events ?? []),
        ...(typeof decision === 'string'
          ? [
              {
                type: 'cold.arx_span',
                at: s.start_time,
                detail: {
                  action: s.tool_name,
                  risk: s.attributes['arx.risk'] ?? null,
                  decision: {
                    effect: decision,
                    approval: s.attributes['arx.approval.mode'] ?? null,
                    policy: s.attributes['arx.policy'] ?? null,
                  },
                },
              },
            ]
          : []),
      ],
    });
  }
  return [...byAction.values()];
}

export interface TraceReader {
  readonly tenantId: string;
  /** Set for an agent caller: it may read only traces it took part in. */
  readonly agentId?: string;
}

export interface TraceView {
  readonly trace_id: string;
  readonly spans: readonly Record<string, unknown>[];
  readonly decisions: readonly Record<string, unknown>[];
  readonly approvals: readonly Record<string, unknown>[];
  readonly actions: readonly Record<string, unknown>[];
  readonly audit_events: readonly Record<string, unknown>[];
  readonly cost: { readonly usd: number; readonly by_model: Record<string, number> };
  readonly partial: boolean;
  readonly missing: readonly string[];
}

/** A span as the API shows it (ids, times, gen_ai fields, cost; content only by reference). */
export function spanView(s: SpanRecord): Record<string, unknown> {
  return {
    trace_id: s.trace_id,
    span_id: s.span_id,
    parent_span_id: s.parent_span_id,
    name: s.name,
    kind: s.kind,
    source: s.source,
    start_time: s.start_time,
    start_time_unix_nano: s.start_ns,
    end_time_unix_nano: s.end_ns,
    duration_ms: s.duration_ms,
    agent_id: s.agent_id,
    operation: s.operation,
    provider: s.provider,
    model: s.model,
    tool_name: s.tool_name,
    usage: s.usage,
    cost_usd: s.cost_usd,
    priced_as: s.priced_as,
    status: s.status,
    attributes: s.attributes,
    events: s.events,
    resource: s.resource,
    has_content: s.content_ref !== null,
  };
}

export function costSummary(spans: readonly Pick<SpanRecord, 'cost_usd' | 'model' | 'tool_name'>[]): {
  usd: number;
  by_model: Record<string, number>;
} {
  const by: Record<string, number> = {};
  let usd = 0;
  for (const s of spans) {
    if (s.cost_usd === null) continue;
    usd += s.cost_usd;
    const k = s.model ?? (s.tool_name ? `tool:${s.tool_name}` : 'unknown');
    by[k] = Math.round(((by[k] ?? 0) + s.cost_usd) * 1e9) / 1e9;
  }
  return { usd: Math.round(usd * 1e9) / 1e9, by_model: by };
}

const TRACE_ID = /^[0-9a-f]{32}$/;
export const isTraceId = (s: string): boolean => TRACE_ID.test(s) && !/^0+$/.test(s);

function decisionFromLink(l: ActionLink): Record<string, unknown> | null {
  const ev = l.events.find((e) => e.detail.decision !== undefined) ?? l.events[0];
  if (!ev) return null;
  const d = ev.detail;
  return {
    action_id: l.action_id,
    agent_id: l.agent_id,
    action: d.action ?? null,
    effect:
      (d.decision as { effect?: string } | undefined)?.effect ?? (ev.type === 'policy.decision' ? 'forbid' : 'permit'),
    approval: (d.decision as { approval?: string } | undefined)?.approval ?? null,
    risk: d.risk ?? null,
    policy: (d.decision as { policy?: string } | undefined)?.policy ?? null,
    source: 'action_events',
  };
}

/** `GET /v1/traces/{trace_id}`. 404 when nothing of the trace is known to the reader. */
export async function getTrace(
  deps: { spans: SpanStore; actions: ActionLookup; audit: AuditLookup; cold?: ColdLookup },
  reader: TraceReader,
  traceId: string,
): Promise<TraceView> {
  if (!isTraceId(traceId)) throw new NotFoundError(`trace ${traceId} not found`);
  const missing = new Set<string>();
  const hot = await deps.spans.traceSpans(reader.tenantId, traceId);
  const { truncated } = hot;
  let { links, spans } = hot;
  if (spans.length === 0 && deps.cold) {
    try {
      spans = await deps.cold.traceSpans(reader.tenantId, traceId);
      if (spans.length) missing.add('spans:hot_expired(cold_copy)');
      if (links.length === 0) links = linksFromArxSpans(reader.tenantId, traceId, spans);
    } catch {
      missing.add('spans:cold');
    }
  }
  if (truncated) missing.add('spans:truncated');
  const agents = new Set<string>(
    [...spans.map((s) => s.agent_id), ...links.map((l) => l.agent_id)].filter((x): x is string => !!x),
  );
  if (spans.length === 0 && links.length === 0) throw new NotFoundError(`trace ${traceId} not found`);
  if (reader.agentId && !agents.has(reader.agentId)) throw new NotFoundError(`trace ${traceId} not found`);

  const actions: Record<string, unknown>[] = [];
  const decisions: Record<string, unknown>[] = [];
  const approvals: Record<string, unknown>[] = [];
  await Promise.all(
    links.map(async (l) => {
      let a: Record<string, unknown> | null = null;
      try {
        a = await deps.actions.getAction(reader.tenantId, l.action_id);
      } catch {
        missing.add('actions');
      }
      if (a) {
        const { params: _p, binding_hash: _b, tenant_id: _t, ...view } = a;
        actions.push(view);
        decisions.push({
          action_id: l.action_id,
          agent_id: a.agent_id,
          action: a.action,
          ...(a.decision as Record<string, unknown>),
          source: 'action_record',
        });
      } else {
        if (!missing.has('actions')) missing.add(`actions:${l.action_id}`);
        const d = decisionFromLink(l);
        if (d) decisions.push(d); // never hide the decision
      }
      const approvalId = l.approval_id ?? (a?.approval_id as string | undefined) ?? null;
      if (approvalId) {
        try {
          const ap = await deps.actions.getApproval(reader.tenantId, approvalId);
          if (ap) {
            const { params: _p, binding_hash: _b, tenant_id: _t, ...view } = ap;
            approvals.push(view);
          } else missing.add(`approvals:${approvalId}`);
        } catch {
          missing.add('approvals');
        }
      }
    }),
  );
  const audit: Record<string, unknown>[] = [];
  for (const agent of agents) {
    if (links.length === 0) break; // only governed actions write audit events for a trace
    try {
      const r = await deps.audit.eventsForTrace(reader.tenantId, agent, traceId);
      audit.push(...r.items);
      if (!r.complete) missing.add('audit_events:older_than_window');
    } catch {
      missing.add('audit_events');
    }
  }
  if (links.length > 0 && !spans.some((s) => s.source === 'arx')) missing.add('spans:arx');
  const byTime = (x: Record<string, unknown>, y: Record<string, unknown>, k: string) =>
    String(x[k] ?? '').localeCompare(String(y[k] ?? ''));
  const sortedSpans = [...spans].sort((a, b) =>
    BigInt(a.start_ns) < BigInt(b.start_ns) ? -1 : BigInt(a.start_ns) > BigInt(b.start_ns) ? 1 : 0,
  );
  return {
    trace_id: traceId,
    spans: sortedSpans.map(spanView),
    decisions: decisions.sort((a, b) => String(a.action_id).localeCompare(String(b.action_id))),
    approvals: approvals.sort((a, b) => byTime(a, b, 'created_at')),
    actions: actions.sort((a, b) => byTime(a, b, 'created_at')),
    audit_events: audit.sort((a, b) => byTime(a, b, 'occurred_at')),
    cost: costSummary(spans),
    partial: missing.size > 0,
    missing: [...missing].sort(),
  };
}

export interface SearchQuery {
  readonly agent_id?: string;
  readonly operation?: string;
  readonly from: string;
  readonly to: string;
  readonly has_approval?: boolean;
  readonly min_cost_usd?: number;
  readonly limit?: number;
}

/** Days (UTC, `yyyy-mm-dd`) from `from` to `to` inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(to.slice(0, 10));
  for (let t = Date.parse(from.slice(0, 10)); t <= end; t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * `POST /v1/traces/search`: reads the day partitions (or the agent's index) of the window only,
 * groups spans by trace and filters. Never scans the table.
 */
export async function searchTraces(
  deps: { spans: SpanStore; cold?: ColdLookup; now?: Date },
  reader: TraceReader,
  q: SearchQuery,
): Promise<{ items: Record<string, unknown>[] }> {
  const agent = reader.agentId ?? q.agent_id;
  // Days whose hot copies have expired are read from their cold partitions (summary columns only).
  const hotFloor = new Date((deps.now ?? new Date()).getTime() - HOT_RETENTION_DAYS * 86_400_000)
    .toISOString()
    .slice(0, 10);
  const days = daysBetween(q.from, q.to);
  const coldDays = deps.cold ? days.filter((d) => d < hotFloor) : [];
  const hotFrom = coldDays.length && q.from < hotFloor ? hotFloor : q.from;
  const hot = agent
    ? await deps.spans.spansByAgent(reader.tenantId, agent, hotFrom, q.to)
    : (
        await Promise.all(
          days
            .filter((d) => d >= hotFloor || !deps.cold)
            .map((d) => deps.spans.spansByDay(reader.tenantId, d, q.from, q.to)),
        )
      ).flat();
  const cold = (await Promise.all(coldDays.map((d) => deps.cold!.searchDay(reader.tenantId, d, agent))))
    .flat()
    .filter((s) => s.start_time >= q.from && s.start_time <= `${q.to}~`);
  type Summary = ColdSpanSummary;
  const spans: Summary[] = [
    ...hot.map((s) => ({
      ...s,
      approval_id: typeof s.attributes['arx.approval.id'] === 'string' ? String(s.attributes['arx.approval.id']) : null,
    })),
    ...cold,
  ];
  const traces = new Map<string, Map<string, Summary>>();
  for (const s of spans) {
    const t = traces.get(s.trace_id) ?? new Map<string, Summary>();
    traces.set(s.trace_id, t);
    t.set(s.span_id, s);
  }
  const items: Record<string, unknown>[] = [];
  for (const [id, byId] of traces) {
    const ss = [...byId.values()];
    const cost = costSummary(ss);
    const hasApproval = ss.some((s) => s.source === 'arx' && s.approval_id !== null);
    const operations = [...new Set(ss.map((s) => s.operation).filter((x): x is string => !!x))];
    if (q.operation && !operations.includes(q.operation)) continue;
    if (q.has_approval !== undefined && q.has_approval !== hasApproval) continue;
    if (q.min_cost_usd !== undefined && cost.usd < q.min_cost_usd) continue;
    const start = ss.map((s) => s.start_time).sort()[0]!;
    items.push({
      trace_id: id,
      start_time: start,
      span_count: ss.length,
      agent_ids: [...new Set(ss.map((s) => s.agent_id).filter(Boolean))],
      operations,
      has_approval: hasApproval,
      cost,
    });
  }
  items.sort((a, b) => String(b.start_time).localeCompare(String(a.start_time)));
  return { items: items.slice(0, q.limit ?? 100) };
}
