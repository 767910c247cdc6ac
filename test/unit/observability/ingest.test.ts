import { describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeTraces } from '../../../lambdas/observability/core/otlp.js';
import { ingestSpans } from '../../../lambdas/observability/core/ingest.js';
import { DEFAULT_PRICES } from '../../../lambdas/observability/core/cost.js';
import { getTrace } from '../../../lambdas/observability/core/traces.js';
import { arxSpansFor, recordActionEvent } from '../../../lambdas/observability/core/arx-spans.js';
import { MemoryContentStore, MemorySpanStore, sdkSpans } from './fixtures.js';

const now = new Date('2026-11-25T12:00:00Z');

async function batch(attrs: Parameters<typeof sdkSpans>[0] = {}) {
  return decodeTraces(ProtobufTraceSerializer.serializeRequest(await sdkSpans(attrs))!, 'protobuf').spans;
}

describe('ingestSpans', () => {
  it('stores spans with usage and cost, and keeps prompt/completion content out of the hot record', async () => {
    const spans = new MemorySpanStore();
    const content = new MemoryContentStore();
    const r = await ingestSpans(
      { spans, content, prices: [DEFAULT_PRICES], now },
      { tenantId: 't1', agentId: 'agt_1' },
      await batch(),
    );
    expect(r).toMatchObject({ accepted: 2, rejected: 0, errorMessage: '' });
    const llm = [...spans.spans.values()].find((s) => s.operation === 'chat')!;
    expect(llm).toMatchObject({
      agent_id: 'agt_1',
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      usage: { input: 1200, output: 300 },
    });
    expect(llm.cost_usd).toBeCloseTo((1200 * 3 + 300 * 15) / 1e6, 9);
    expect(JSON.stringify(llm)).not.toContain('stale contractor');
    expect(llm.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(llm.events).toEqual([]);
    expect(llm.content_ref).toBe(`tenants/t1/traces/content/${llm.trace_id}/${llm.span_id}.json`);
    const stored = JSON.stringify(content.objects.get(llm.content_ref!));
    expect(stored).toContain('I will deactivate the user');
    expect(stored).toContain('deactivate the stale contractor');
    // redacted as the audit sink redacts: sensitive keys and secret-looking values
    expect(stored).not.toContain('stale.contractor@acme.com');
    expect(stored).not.toContain('SSWS-00abcdefghijklmnop');
    expect(stored).toContain('[REDACTED]');
  });

  it('rejects spans an agent sends for another agent and counts them in partial_success', async () => {
    const spans = new MemorySpanStore();
    const r = await ingestSpans(
      { spans, content: new MemoryContentStore(), prices: [DEFAULT_PRICES], now },
      { tenantId: 't1', agentId: 'agt_1' },
      await batch({ tool: { 'gen_ai.agent.id': 'agt_other' } }),
    );
    expect(r.accepted).toBe(1);
    expect(r.rejected).toBe(1);
    expect(r.errorMessage).toMatch(/another agent/);
    expect([...spans.spans.values()].every((s) => s.agent_id === 'agt_1')).toBe(true);
  });

  it('lets an admin send spans for any agent, attributed by gen_ai.agent.id', async () => {
    const spans = new MemorySpanStore();
    const r = await ingestSpans(
      { spans, content: new MemoryContentStore(), prices: [DEFAULT_PRICES], now },
      { tenantId: 't1' },
      await batch({ resource: { 'gen_ai.agent.id': 'agt_9' } }),
    );
    expect(r.rejected).toBe(0);
    expect([...spans.spans.values()].map((s) => s.agent_id)).toEqual(['agt_9', 'agt_9']);
  });

  it('reads old attribute names through the alias table', async () => {
    const spans = new MemorySpanStore();
    await ingestSpans(
      { spans, content: new MemoryContentStore(), prices: [DEFAULT_PRICES], now },
      { tenantId: 't1', agentId: 'agt_1' },
      await batch({
        llm: {
          'gen_ai.provider.name': undefined as never,
          'gen_ai.system': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': undefined as never,
          'gen_ai.usage.output_tokens': undefined as never,
          'gen_ai.usage.prompt_tokens': 1000,
          'gen_ai.usage.completion_tokens': 100,
        },
      }),
    );
    const llm = [...spans.spans.values()].find((s) => s.operation === 'chat')!;
    expect(llm).toMatchObject({ provider: 'openai', usage: { input: 1000, output: 100 } });
    expect(llm.cost_usd).toBeCloseTo((1000 * 2.5 + 100 * 10) / 1e6, 9);
  });
});

describe('ARX spans and the trace join', () => {
  const trace = 'ab'.repeat(16);
  const base = {
    tenant_id: 't1',
    trace_id: trace,
    correlation_id: 'c1',
    action_id: 'act_1',
    agent_id: 'agt_1',
    action: 'okta:users:deactivate',
    connector: 'okta',
    operation: 'users:deactivate',
    risk: 'high',
    traceparent: `00-${trace}-1111111111111111-01`,
    parent_span_id: '2222222222222222',
    created_at: '2026-11-25T10:00:00.000Z',
    decision: { effect: 'permit', approval: 'hitl', policy: 'okta-access-review', evaluation_ms: 3 },
  };

  it('builds decision → approval → execution as children of the caller span, idempotently', async () => {
    const store = new MemorySpanStore();
    await recordActionEvent(
      store,
      'decision.required',
      { ...base, approval_id: 'apr_1', updated_at: '2026-11-25T10:00:00.005Z' },
      '2026-11-25T10:00:01Z',
    );
    await recordActionEvent(
      store,
      'decision.approved',
      { ...base, approval_id: 'apr_1', approver: 'manager@example.com', decided_at: '2026-11-25T10:02:15.000Z' },
      '2026-11-25T10:02:16Z',
    );
    const exec = {
      ...base,
      approval_id: 'apr_1',
      latency_ms: 120,
      updated_at: '2026-11-25T10:02:15.300Z',
      approval_metadata: { approver: 'manager@example.com', approval_id: 'apr_1' },
    };
    await recordActionEvent(store, 'operation.executed', exec, '2026-11-25T10:02:16Z');
    await recordActionEvent(store, 'operation.executed', exec, '2026-11-25T10:02:16Z'); // redelivered
    const spans = [...store.spans.values()];
    expect(spans.map((s) => s.name).sort()).toEqual([
      'arx.approval',
      'arx.decision',
      'arx.execution',
      'arx.governed_action',
    ]);
    const root = spans.find((s) => s.name === 'arx.governed_action')!;
    expect(root).toMatchObject({ span_id: '1111111111111111', parent_span_id: '2222222222222222', source: 'arx' });
    expect(spans.filter((s) => s !== root).every((s) => s.parent_span_id === root.span_id)).toBe(true);
    const approval = spans.find((s) => s.name === 'arx.approval')!;
    expect(approval.attributes).toMatchObject({
      'gen_ai.tool.name': 'okta:users:deactivate',
      'arx.approval.id': 'apr_1',
      'arx.approver': 'manager@example.com',
      'arx.outcome': 'approved',
      'arx.risk': 'high',
    });
    expect(approval.duration_ms).toBe(135_000 - 5);
    expect(spans.find((s) => s.name === 'arx.decision')!.attributes).toMatchObject({
      'arx.decision': 'permit',
      'arx.approval.mode': 'hitl',
      'arx.policy': 'okta-access-review',
    });
    expect(store.links.get(`t1|${trace}|act_1`)!.events).toHaveLength(3);
  });

  it('shows a forbid decision even when its action record cannot be read (partial, never hidden)', async () => {
    const store = new MemorySpanStore();
    await recordActionEvent(
      store,
      'policy.decision',
      { ...base, effect: 'forbid', decision: { effect: 'forbid', approval: 'none', policy: null, evaluation_ms: 1 } },
      '2026-11-25T10:00:01Z',
    );
    const view = await getTrace(
      {
        spans: store,
        actions: {
          getAction: async () => {
            throw new Error('control table down');
          },
          getApproval: async () => null,
        },
        audit: { eventsForTrace: async () => ({ items: [], complete: true }) },
      },
      { tenantId: 't1' },
      trace,
    );
    expect(view.partial).toBe(true);
    expect(view.missing).toContain('actions');
    expect(view.decisions).toMatchObject([{ action_id: 'act_1', effect: 'forbid', source: 'action_events' }]);
    expect(view.spans.find((s) => s.name === 'arx.decision')).toMatchObject({ status: { code: 2 } });
  });

  it('reads a trace the hot store has expired from its cold copy, and says so', async () => {
    const hot = new MemorySpanStore();
    const archived = new MemorySpanStore();
    await ingestSpans(
      { spans: archived, content: new MemoryContentStore(), prices: [DEFAULT_PRICES], now },
      { tenantId: 't1', agentId: 'agt_1' },
      await batch(),
    );
    const traceId = [...archived.spans.values()][0]!.trace_id;
    const view = await getTrace(
      {
        spans: hot,
        actions: { getAction: async () => null, getApproval: async () => null },
        audit: { eventsForTrace: async () => ({ items: [], complete: true }) },
        cold: { traceSpans: async (t, id) => (await archived.traceSpans(t, id)).spans, searchDay: async () => [] },
      },
      { tenantId: 't1' },
      traceId,
    );
    expect(view.spans).toHaveLength(2);
    expect(view.partial).toBe(true);
    expect(view.missing).toEqual(['spans:hot_expired(cold_copy)']);
    expect(view.cost.usd).toBeGreaterThan(0);
  });

  it('ignores events that are not about a governed action', () => {
    expect(arxSpansFor('operation.executed', { tenant_id: 't1' }, '2026-11-25T10:00:00Z', null)).toBeNull();
  });
});
