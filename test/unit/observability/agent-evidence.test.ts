import { describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeTraces } from '../../../lambdas/observability/core/otlp.js';
import { ingestSpans } from '../../../lambdas/observability/core/ingest.js';
import { DEFAULT_PRICES } from '../../../lambdas/observability/core/cost.js';
import { AgentEvidenceFilter, agentsNamedBy } from '../../../lambdas/observability/core/agent-evidence.js';
import { MemoryContentStore, MemorySpanStore, sdkSpans } from './fixtures.js';

const now = new Date('2026-11-25T12:00:00Z');

/** Spans from the real OpenTelemetry SDK, through the real decoder and ingest. */
async function records(resource: Record<string, string>, caller: { tenantId: string; agentId?: string }) {
  const spans = decodeTraces(ProtobufTraceSerializer.serializeRequest(await sdkSpans({ resource }))!, 'protobuf').spans;
  const r = await ingestSpans(
    { spans: new MemorySpanStore(), content: new MemoryContentStore(), prices: [DEFAULT_PRICES], now },
    caller,
    spans,
  );
  return r.records;
}

describe('agentsNamedBy (OTLP → discovery evidence)', () => {
  it('maps one batch to one item per gen_ai.agent.id: platform otel, its name, earliest span, span count, operations', async () => {
    const recs = await records(
      { 'gen_ai.agent.id': 'support-bot-7', 'gen_ai.agent.name': 'Support bot' },
      { tenantId: 't1' },
    );
    const items = agentsNamedBy(recs, { tenantId: 't1' } as { agentId?: string });
    expect(items).toEqual([
      {
        platform: 'otel',
        platform_native_id: 'support-bot-7',
        name: 'Support bot',
        observed_at: recs.map((r) => r.start_time).sort()[0],
        observed_actions: 2,
        declared_capabilities: ['gen_ai:chat', 'gen_ai:execute_tool'],
        signals: ['otel:gen_ai.agent.id', 'otel:service.name=reviewer'],
      },
    ]);
  });

  it('reports nothing for spans an agent sends with its SVID (they are its own) or spans that name no agent', async () => {
    const own = await records({ 'gen_ai.agent.id': 'agt_1' }, { tenantId: 't1', agentId: 'agt_1' });
    expect(own).toHaveLength(2);
    expect(agentsNamedBy(own, { agentId: 'agt_1' })).toEqual([]);
    const anonymous = await records({}, { tenantId: 't1' });
    expect(anonymous).toHaveLength(2);
    expect(agentsNamedBy(anonymous, {})).toEqual([]);
  });
});

describe('AgentEvidenceFilter (known ids cached, one report per agent per TTL)', () => {
  const item = (id: string, n = 1) => ({
    platform: 'otel',
    platform_native_id: id,
    observed_at: now.toISOString(),
    observed_actions: n,
  });

  it('drops ARX identities and remembers them; reports an unknown id once per TTL, carrying the spans seen meanwhile', async () => {
    let t = 0;
    const lookups: string[] = [];
    const f = new AgentEvidenceFilter(
      async (_tenant, id) => {
        lookups.push(id);
        return id.startsWith('agt_');
      },
      () => t,
      60_000,
    );
    expect(await f.toReport('t1', [item('agt_known', 3), item('shadow', 2)])).toEqual([item('shadow', 2)]);
    t = 30_000;
    expect(await f.toReport('t1', [item('agt_known'), item('shadow', 5)])).toEqual([]);
    expect(lookups).toEqual(['agt_known', 'shadow']);
    // Another tenant's id is its own entry.
    expect(await f.toReport('t2', [item('shadow', 1)])).toEqual([item('shadow', 1)]);
    t = 61_000;
    expect(await f.toReport('t1', [item('agt_known'), item('shadow', 1)])).toEqual([item('shadow', 6)]);
    expect(lookups).toEqual(['agt_known', 'shadow', 'shadow', 'agt_known', 'shadow']);
  });

  it('counts an id whose lookup fails as unknown (discovery checks again) and stays bounded in size', async () => {
    let calls = 0;
    const f = new AgentEvidenceFilter(
      async () => {
        calls++;
        throw new Error('inventory unavailable');
      },
      () => 0,
      60_000,
      2,
    );
    expect(await f.toReport('t1', [item('a'), item('b'), item('c')])).toHaveLength(3);
    // Capacity 2: 'a' was evicted, so it is looked up again; 'c' is still remembered.
    expect(await f.toReport('t1', [item('a'), item('c')])).toEqual([item('a')]);
    expect(calls).toBe(4);
  });
});
