/**
 * OTLP ingest: ownership check (an agent may only send its own spans), alias normalisation,
 * content split (prompt/completion never reach the hot store), usage extraction and event-time
 * cost. Pure apart from the injected stores.
 */
import { redact } from '../../audit/index.js';
import { costOf, type PriceTable, type Usage } from './cost.js';
import { ALIASES, GEN_AI, CONTENT_EVENT, isContentAttribute } from './semconv.js';
import type { AttrValue, Attributes, OtlpSpan } from './otlp.js';
import type { ContentStore, SpanRecord, SpanStore } from './model.js';

/** Who sends the batch: an agent (its SVID) or a tenant admin. */
export interface IngestCaller {
  readonly tenantId: string;
  readonly agentId?: string;
  readonly spiffeId?: string;
}

export interface IngestResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly errorMessage: string;
  readonly records: readonly SpanRecord[];
}

/** Longest attribute string kept on a hot span; longer values are cut (content never is kept). */
export const MAX_ATTR_STRING = 4096;
/** Keys that identify the sending agent, in order of precedence (span, then resource). */
const AGENT_KEYS = [GEN_AI.agentId, 'arx.agent.id'];

const str = (v: AttrValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const num = (v: AttrValue | undefined): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
};

function clip(v: AttrValue): AttrValue {
  if (typeof v === 'string') return v.length > MAX_ATTR_STRING ? `${v.slice(0, MAX_ATTR_STRING)}…[truncated]` : v;
  if (Array.isArray(v)) return v.slice(0, 128).map(clip);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .slice(0, 128)
        .map(([k, x]) => [k, clip(x)]),
    );
  return v;
}

const NO_CONTENT: Attributes = Object.freeze({}) as Attributes;
const NO_CONTENT_EVENTS: { name: string; time_ns: string; attributes: Attributes }[] = [];
/** Whether a value needs clipping (long strings, arrays, maps); most attribute values do not. */
const needsClip = (v: AttrValue): boolean =>
  typeof v === 'string' ? v.length > MAX_ATTR_STRING : v !== null && typeof v === 'object';

/**
 * Splits attributes into what the hot store keeps and what is content, applying the alias table
 * (current names win) in the same pass. One object per span in the common case (no alias, no
 * content): the hot path allocates nothing else.
 */
function split(attrs: Attributes): { keep: Attributes; content: Attributes } {
  const keep: Attributes = {};
  let content: Attributes = NO_CONTENT;
  let aliased: string[] | null = null;
  for (const k in attrs) {
    if (k in ALIASES) {
      aliased ??= [];
      aliased.push(k);
      continue;
    }
    const v = attrs[k]!;
    if (k.startsWith('gen_ai.') && isContentAttribute(k)) {
      if (content === NO_CONTENT) content = {};
      content[k] = v;
    } else keep[k] = needsClip(v) ? clip(v) : v;
  }
  if (aliased) {
    for (const k of aliased) {
      const to = ALIASES[k]!;
      if (to in keep || to in content || to in attrs) continue;
      const v = attrs[k]!;
      if (isContentAttribute(to)) {
        if (content === NO_CONTENT) content = {};
        content[to] = v;
      } else keep[to] = needsClip(v) ? clip(v) : v;
    }
  }
  return { keep, content };
}

export function usageOf(a: Attributes): Usage | null {
  const input = num(a[GEN_AI.inputTokens]);
  const output = num(a[GEN_AI.outputTokens]);
  const cacheRead = num(a[GEN_AI.cacheReadInputTokens]);
  const cacheCreation = num(a[GEN_AI.cacheCreationInputTokens]);
  const reasoning = num(a[GEN_AI.reasoningOutputTokens]);
  if (
    input === undefined &&
    output === undefined &&
    cacheRead === undefined &&
    cacheCreation === undefined &&
    reasoning === undefined
  )
    return null;
  // only the counts that are present (the stored shape has no undefined members)
  const u: { -readonly [K in keyof Usage]: Usage[K] } = {};
  if (input !== undefined) u.input = input;
  if (output !== undefined) u.output = output;
  if (cacheRead !== undefined) u.cacheRead = cacheRead;
  if (cacheCreation !== undefined) u.cacheCreation = cacheCreation;
  if (reasoning !== undefined) u.reasoning = reasoning;
  return u;
}

/** Milliseconds of a decimal nanosecond string (exact for any ns below 2^53 ms). */
const nsToMs = (ns: string): number => (ns.length <= 15 ? Math.floor(Number(ns) / 1e6) : Number(ns.slice(0, -6)));
/** ISO time of the last whole second formatted (a batch's spans are close in time: one Date per second). */
let isoSecond = Number.NaN;
let isoPrefix = '';
function nsToIso(ns: string): string {
  const ms = Math.max(nsToMs(ns), 0);
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    isoSecond = sec;
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, -4); // 'yyyy-mm-ddThh:mm:ss.'
    if (isoPrefix.length !== 20) return new Date(ms).toISOString(); // years beyond 9999: no fast path
  }
  const frac = ms - sec * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}
/** end − start in ms with µs precision, exact from the decimal strings. */
function durationMs(startNs: string, endNs: string): number {
  if (startNs.length <= 15 && endNs.length <= 15)
    return Math.max(0, Math.floor((Number(endNs) - Number(startNs)) / 1000) / 1000);
  return Math.max(0, Number((BigInt(endNs) - BigInt(startNs)) / 1000n) / 1000);
}

/**
 * Turns decoded spans into hot records. Spans an agent sends for another agent are rejected
 * (counted, never stored); content goes to `content` (redacted, encrypted) and the record keeps
 * only its reference.
 */
export async function ingestSpans(
  deps: { spans: SpanStore; content: ContentStore; prices: readonly PriceTable[]; now: Date },
  caller: IngestCaller,
  spans: readonly OtlpSpan[],
  invalid = 0,
): Promise<IngestResult> {
  const records: SpanRecord[] = [];
  const contents: { key: string; value: unknown; index: number }[] = [];
  let foreign = 0;
  const at = deps.now.toISOString();
  let lastResource: Attributes | null = null;
  let res: Attributes = {};
  for (const s of spans) {
    const span = split(s.attributes);
    // spans of one resource share its attribute object: split it once
    if (s.resource !== lastResource) {
      lastResource = s.resource;
      res = split(s.resource).keep;
    }
    let declared: string | null = null;
    for (const k of AGENT_KEYS) {
      declared = str(span.keep[k]) ?? str(res[k]);
      if (declared !== null) break;
    }
    if (caller.agentId && declared && declared !== caller.agentId && declared !== caller.spiffeId) {
      foreign++;
      continue;
    }
    const agentId = caller.agentId ?? declared;
    const events: SpanRecord['events'][number][] = [];
    let contentEvents: { name: string; time_ns: string; attributes: Attributes }[] = NO_CONTENT_EVENTS;
    if (s.events.length) contentEvents = [];
    for (const e of s.events) {
      const ea = split(e.attributes);
      if (CONTENT_EVENT.test(e.name)) contentEvents.push({ name: e.name, time_ns: e.timeNs, attributes: e.attributes });
      else {
        if (Object.keys(ea.content).length)
          contentEvents.push({ name: e.name, time_ns: e.timeNs, attributes: ea.content });
        events.push({ name: e.name, time_ns: e.timeNs, attributes: ea.keep });
      }
    }
    const usage = usageOf(span.keep);
    const provider = str(span.keep[GEN_AI.providerName]) ?? str(res[GEN_AI.providerName]);
    const model = str(span.keep[GEN_AI.responseModel]) ?? str(span.keep[GEN_AI.requestModel]);
    const tool = str(span.keep[GEN_AI.toolName]);
    const startTime = nsToIso(s.startNs);
    const cost =
      model || tool ? costOf(deps.prices, { provider, model, tool, usage: usage ?? {}, at: nsToMs(s.startNs) }) : null;

    const hasContent = Object.keys(span.content).length > 0 || contentEvents.length > 0;
    if (hasContent) {
      contents.push({
        key: `traces/content/${s.traceId}/${s.spanId}`,
        value: { attributes: span.content, events: contentEvents },
        index: records.length,
      });
    }
    records.push({
      tenant_id: caller.tenantId,
      trace_id: s.traceId,
      span_id: s.spanId,
      parent_span_id: s.parentSpanId,
      name: s.name.slice(0, 512),
      kind: s.kind,
      start_ns: s.startNs,
      end_ns: s.endNs,
      start_time: startTime,
      duration_ms: durationMs(s.startNs, s.endNs),
      source: 'otlp',
      agent_id: agentId,
      operation: str(span.keep[GEN_AI.operationName]),
      provider,
      model,
      tool_name: tool,
      usage,
      cost_usd: cost?.usd ?? null,
      priced_as: cost?.priced_as ?? null,
      status: s.status,
      attributes: span.keep,
      events,
      resource: res,
      scope: s.scope,
      content_ref: null,
      ingested_at: at,
    });
  }
  // Content first: a span never points at content that was not written.
  await mapLimit(contents, 8, async (c) => {
    // Structured content (gen_ai.*.messages are JSON strings) is parsed so the audit redaction
    // walks its fields; like the audit sink it redacts sensitive keys and whole values that look
    // like secrets or PII, not PII inside free prose.
    const { value } = redact(parseJsonStrings(c.value));
    const ref = await deps.content.put(caller.tenantId, c.key, value);
    records[c.index] = { ...records[c.index]!, content_ref: ref };
  });
  if (records.length) await deps.spans.putSpans(records);
  const rejected = foreign + invalid;
  const msgs = [
    ...(foreign
      ? [`${foreign} span(s) name another agent (gen_ai.agent.id); an agent may only send its own spans`]
      : []),
    ...(invalid ? [`${invalid} span(s) have an invalid trace_id/span_id`] : []),
  ];
  return { accepted: records.length, rejected, errorMessage: msgs.join('; '), records };
}

function parseJsonStrings(v: unknown): unknown {
  if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
    try {
      return parseJsonStrings(JSON.parse(v));
    } catch {
      return v;
    }
  }
  if (Array.isArray(v)) return v.map(parseJsonStrings);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, parseJsonStrings(x)]));
  return v;
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
