import { context, trace, SpanKind, type Attributes } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  ActionLink,
  ContentStore,
  SpanRecord,
  SpanStore,
  Budget,
} from '../../../lambdas/observability/core/model.js';
import type { PriceTable } from '../../../lambdas/observability/core/cost.js';

/** Finished spans from the real OpenTelemetry JS SDK (a parent LLM call and a tool child). */
export async function sdkSpans(
  attrs: { llm?: Attributes; tool?: Attributes; resource?: Attributes } = {},
): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'reviewer', ...attrs.resource }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('agent', '1.0.0');
  const llm = tracer.startSpan('chat claude-sonnet-4', {
    kind: SpanKind.CLIENT,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-20250514',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 300,
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: 'deactivate the stale contractor' }] },
        {
          role: 'tool',
          parts: [
            {
              type: 'tool_call_response',
              response: { email: 'stale.contractor@acme.com', api_token: 'SSWS-00abcdefghijklmnop' },
            },
          ],
        },
      ]),
      ...attrs.llm,
    },
  });
  llm.addEvent('gen_ai.choice', { index: 0, message: 'I will deactivate the user' });
  const tool = tracer.startSpan(
    'execute_tool okta',
    {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'okta:users:deactivate',
        ...attrs.tool,
      },
    },
    trace.setSpan(context.active(), llm),
  );
  tool.end();
  llm.end();
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

/** In-memory SpanStore with the adapter's semantics (for core tests; the adapter is tested on moto). */
export class MemorySpanStore implements SpanStore {
  readonly spans = new Map<string, SpanRecord>();
  readonly links = new Map<string, ActionLink>();
  prices: (PriceTable & { updated_at: string }) | null = null;
  readonly budgets: Budget[] = [];
  async putSpans(records: readonly SpanRecord[]) {
    for (const r of records) this.spans.set(`${r.tenant_id}|${r.trace_id}|${r.span_id}`, r);
  }
  async traceSpans(t: string, id: string) {
    return {
      spans: [...this.spans.values()].filter((s) => s.tenant_id === t && s.trace_id === id),
      links: [...this.links.values()].filter((l) => l.tenant_id === t && l.trace_id === id),
      truncated: false,
    };
  }
  async spansByAgent(t: string, a: string, from: string, to: string) {
    return [...this.spans.values()].filter(
      (s) => s.tenant_id === t && s.agent_id === a && s.start_time >= from && s.start_time <= `${to}~`,
    );
  }
  async spansByDay(t: string, day: string, from = '', to = '~') {
    return [...this.spans.values()].filter(
      (s) => s.tenant_id === t && s.start_time.startsWith(day) && s.start_time >= from && s.start_time <= `${to}~`,
    );
  }
  async appendLinkEvent(l: Omit<ActionLink, 'events'>, ev: ActionLink['events'][number]) {
    const k = `${l.tenant_id}|${l.trace_id}|${l.action_id}`;
    const prev = this.links.get(k) ?? null;
    if (prev?.events.some((e) => e.type === ev.type && e.at === ev.at)) return prev;
    this.links.set(k, {
      ...l,
      approval_id: l.approval_id ?? prev?.approval_id ?? null,
      events: [...(prev?.events ?? []), ev],
    });
    return prev;
  }
  async getPrices() {
    return this.prices;
  }
  async putPrices(_t: string, table: PriceTable, at: string) {
    this.prices = { ...table, updated_at: at };
  }
  async putBudget(_t: string, b: Budget) {
    this.budgets.push(b);
  }
  exportCfg: Awaited<ReturnType<SpanStore['getExport']>> = null;
  async putExport(_t: string, cfg: NonNullable<Awaited<ReturnType<SpanStore['getExport']>>>) {
    this.exportCfg = cfg;
  }
  async getExport() {
    return this.exportCfg;
  }
  async listBudgets() {
    return this.budgets;
  }
}

export class MemoryContentStore implements ContentStore {
  readonly objects = new Map<string, unknown>();
  async put(t: string, key: string, content: unknown) {
    const ref = `tenants/${t}/${key}.json`;
    this.objects.set(ref, JSON.parse(JSON.stringify(content)));
    return ref;
  }
  async get(_t: string, ref: string) {
    return this.objects.get(ref);
  }
}
