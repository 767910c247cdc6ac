/**
 * ARX's own spans for every governed action, built from the action events on the bus
 * (`decision.required`, `decision.approved|denied|expired`, `operation.executed|failed`,
 * `policy.decision` for a forbid). They continue the caller's trace: the root `arx.governed_action`
 * span has ARX's request span id (the one in the action's traceparent) and the caller's span as
 * parent; `arx.decision`, `arx.approval` and `arx.execution` are its children. Span ids are
 * derived from the action id, so a redelivered event rewrites the same spans (idempotent).
 */
import { createHash } from 'node:crypto';
import type { Attributes } from './otlp.js';
import type { ActionLink, SpanRecord } from './model.js';
import { GEN_AI } from './semconv.js';

/** Detail-types that produce ARX spans. */
export const SPAN_DETAIL_TYPES = [
  'policy.decision',
  'decision.required',
  'decision.approved',
  'decision.denied',
  'decision.expired',
  'operation.executed',
  'operation.failed',
] as const;

/** ARX attribute names on its own spans (gen_ai.* where the conventions have a name). */
export const ARX_ATTR = {
  actionId: 'arx.action.id',
  decision: 'arx.decision',
  approvalMode: 'arx.approval.mode',
  risk: 'arx.risk',
  policy: 'arx.policy',
  approvalId: 'arx.approval.id',
  approver: 'arx.approver',
  outcome: 'arx.outcome',
  correlationId: 'arx.correlation_id',
} as const;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const spanIdOf = (actionId: string, part: string): string =>
  createHash('sha256').update(`${actionId}|${part}`).digest('hex').slice(0, 16);
const ns = (iso: string): string => (BigInt(Date.parse(iso)) * 1_000_000n).toString();
const s = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

interface Detail {
  readonly [k: string]: unknown;
}

function span(
  base: { tenant: string; trace: string; agent: string; tool: string; at: string },
  id: string,
  parent: string | null,
  name: string,
  start: string,
  end: string,
  attributes: Attributes,
  error = false,
): SpanRecord {
  const startMs = Date.parse(start);
  const endMs = Math.max(Date.parse(end), startMs);
  return {
    tenant_id: base.tenant,
    trace_id: base.trace,
    span_id: id,
    parent_span_id: parent,
    name,
    kind: 1,
    start_ns: ns(new Date(startMs).toISOString()),
    end_ns: ns(new Date(endMs).toISOString()),
    start_time: new Date(startMs).toISOString(),
    duration_ms: endMs - startMs,
    source: 'arx',
    agent_id: base.agent,
    operation: 'execute_tool',
    provider: null,
    model: null,
    tool_name: base.tool,
    usage: null,
    cost_usd: null,
    priced_as: null,
    status: { code: error ? 2 : 1, message: '' },
    attributes: {
      [GEN_AI.toolName]: base.tool,
      [GEN_AI.agentId]: base.agent,
      [GEN_AI.operationName]: 'execute_tool',
      ...attributes,
    },
    events: [],
    resource: { 'service.name': 'arx' },
    scope: { name: 'arx', version: '1' },
    content_ref: null,
    ingested_at: base.at,
  };
}

/**
 * Spans for one action event, given the link (earlier events of the same action). Returns null
 * when the event is not about a governed action (no action id or trace).
 */
export function arxSpansFor(
  detailType: string,
  d: Detail,
  eventTime: string,
  link: ActionLink | null,
): SpanRecord[] | null {
  const tenant = s(d.tenant_id);
  const actionId = s(d.action_id);
  const trace = s(d.trace_id);
  const agent = s(d.agent_id);
  const tool = s(d.action) ?? [s(d.connector), s(d.operation)].filter(Boolean).join(':');
  if (!tenant || !actionId || !trace || !/^[0-9a-f]{32}$/.test(trace) || !agent || !tool) return null;
  const tp = TRACEPARENT.exec(s(d.traceparent) ?? '');
  const rootId = tp && tp[1] === trace ? tp[2]! : spanIdOf(actionId, 'root');
  const parent = s(d.parent_span_id) ?? null;
  const created = s(d.created_at) ?? link?.events[0]?.at ?? eventTime;
  const at = s(d.updated_at) ?? eventTime;
  const base = { tenant, trace, agent, tool, at: eventTime };
  const dec = (d.decision ?? {}) as {
    effect?: string;
    approval?: string;
    policy?: string | null;
    evaluation_ms?: number;
  };
  const common: Attributes = {
    [ARX_ATTR.actionId]: actionId,
    ...(s(d.risk) ? { [ARX_ATTR.risk]: s(d.risk)! } : {}),
    ...(s(d.correlation_id) ? { [ARX_ATTR.correlationId]: s(d.correlation_id)! } : {}),
  };
  const approvalId = s(d.approval_id) ?? link?.approval_id ?? undefined;
  const required = link?.events.find((e) => e.type === 'decision.required');
  const out: SpanRecord[] = [];
  const decisionSpan = (effect: string, mode: string | undefined, end: string) =>
    span(
      base,
      spanIdOf(actionId, 'decision'),
      rootId,
      'arx.decision',
      created,
      end,
      {
        ...common,
        [ARX_ATTR.decision]: effect,
        ...(mode ? { [ARX_ATTR.approvalMode]: mode } : {}),
        ...((dec.policy ?? s(d.policy)) ? { [ARX_ATTR.policy]: (dec.policy ?? s(d.policy))! } : {}),
        ...(approvalId && mode === 'hitl' ? { [ARX_ATTR.approvalId]: approvalId } : {}),
      },
      effect === 'forbid',
    );
  const decisionEnd = new Date(Date.parse(created) + Math.max(1, Math.round(dec.evaluation_ms ?? 1))).toISOString();

  switch (detailType) {
    case 'policy.decision':
      out.push(decisionSpan('forbid', dec.approval, decisionEnd));
      break;
    case 'decision.required':
      out.push(decisionSpan('permit', 'hitl', decisionEnd));
      break;
    case 'decision.approved':
    case 'decision.denied':
    case 'decision.expired': {
      const outcome =
        detailType === 'decision.approved'
          ? 'approved'
          : detailType === 'decision.denied'
            ? d.cancelled
              ? 'cancelled'
              : 'denied'
            : 'expired';
      const end = s(d.decided_at) ?? s(d.expires_at) ?? at;
      out.push(
        span(
          base,
          spanIdOf(actionId, 'approval'),
          rootId,
          'arx.approval',
          required?.at ?? created,
          end,
          {
            ...common,
            [ARX_ATTR.outcome]: outcome,
            ...(approvalId ? { [ARX_ATTR.approvalId]: approvalId } : {}),
            ...(s(d.approver) ? { [ARX_ATTR.approver]: s(d.approver)! } : {}),
          },
          outcome !== 'approved',
        ),
      );
      break;
    }
    case 'operation.executed':
    case 'operation.failed': {
      if (!required && !approvalId) out.push(decisionSpan('permit', dec.approval ?? 'none', decisionEnd));
      const latency = typeof d.latency_ms === 'number' ? d.latency_ms : 0;
      const start = new Date(Math.max(Date.parse(at) - latency, Date.parse(created))).toISOString();
      const meta = (d.approval_metadata ?? null) as { approver?: string; approval_id?: string } | null;
      out.push(
        span(
          base,
          spanIdOf(actionId, 'execution'),
          rootId,
          'arx.execution',
          start,
          at,
          {
            ...common,
            [ARX_ATTR.outcome]: detailType === 'operation.executed' ? 'executed' : 'failed',
            ...(approvalId ? { [ARX_ATTR.approvalId]: approvalId } : {}),
            ...(meta?.approver ? { [ARX_ATTR.approver]: meta.approver } : {}),
            ...(s(d.error_code) ? { 'error.type': s(d.error_code)! } : {}),
          },
          detailType === 'operation.failed',
        ),
      );
      break;
    }
    default:
      return null;
  }
  // The root spans the action from submission to this event; rewritten as the action advances.
  const final = detailType !== 'decision.required' && detailType !== 'decision.approved';
  out.unshift(
    span(
      base,
      rootId,
      parent,
      'arx.governed_action',
      created,
      final ? at : out[0]?.end_ns ? new Date(Number(BigInt(out[0].end_ns) / 1_000_000n)).toISOString() : at,
      {
        ...common,
        ...(approvalId ? { [ARX_ATTR.approvalId]: approvalId } : {}),
      },
    ),
  );
  return out;
}

/**
 * Records one action event: appends it to the trace's action link and writes the spans it
 * completes. Throws on a store failure so the bus retries (and the DLQ keeps what failed).
 */
export async function recordActionEvent(
  store: Pick<import('./model.js').SpanStore, 'appendLinkEvent' | 'putSpans'>,
  detailType: string,
  detail: Record<string, unknown>,
  eventTime: string,
): Promise<{ spans: SpanRecord[] }> {
  const tenant = s(detail.tenant_id);
  const trace = s(detail.trace_id);
  const actionId = s(detail.action_id);
  const agent = s(detail.agent_id);
  if (!tenant || !trace || !actionId || !agent || !(SPAN_DETAIL_TYPES as readonly string[]).includes(detailType))
    return { spans: [] };
  const at =
    s(detail.decided_at) ?? s(detail.updated_at) ?? new Date(Date.parse(eventTime) || Date.now()).toISOString();
  // Not about a governed action this can draw (no tool, a malformed trace id): nothing is linked.
  if (!arxSpansFor(detailType, detail, at, null)) return { spans: [] };
  const { tenant_id: _t, ...kept } = detail;
  // The update answers the link as it was: the spans this event completes are built from the events before it.
  const prev = await store.appendLinkEvent(
    {
      tenant_id: tenant,
      trace_id: trace,
      action_id: actionId,
      agent_id: agent,
      approval_id: s(detail.approval_id) ?? null,
    },
    { type: detailType, at, detail: kept },
  );
  const spans = arxSpansFor(detailType, detail, at, prev);
  if (!spans) return { spans: [] };
  await store.putSpans(spans);
  return { spans };
}
