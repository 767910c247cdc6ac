/**
 * OTLP logs and metrics, stored minimally: each accepted request becomes one redacted document
 * (log bodies and attributes are content, so the same redaction as the audit sink) written
 * encrypted with the tenant data key to the cold bucket under
 * `tenants/<t>/otlp/<logs|metrics>/<yyyy-mm-dd>/<request>.json`. They are kept for the customer's
 * own analysis and are not queried by the trace API; an agent's records naming another agent
 * (`gen_ai.agent.id`) are rejected like its spans.
 */
import { redact } from '../../audit/index.js';
import type { Attributes, OtlpLogRecord, OtlpMetricPoint } from './otlp.js';
import type { ContentStore } from './model.js';
import type { IngestCaller } from './ingest.js';
import { GEN_AI } from './semconv.js';

const agentOf = (a: Attributes, r: Attributes): string | null => {
  const v = a[GEN_AI.agentId] ?? r[GEN_AI.agentId] ?? a['arx.agent.id'] ?? r['arx.agent.id'];
  return typeof v === 'string' && v ? v : null;
};

export async function storeSignals(
  deps: { content: ContentStore; clock: { now(): Date } },
  caller: IngestCaller,
  signal: 'logs' | 'metrics',
  items: readonly (OtlpLogRecord | OtlpMetricPoint)[],
  requestId: string,
): Promise<{ accepted: number; rejected: number; errorMessage: string; ref: string | null }> {
  const kept = items.filter((x) => {
    const a = agentOf(x.attributes, x.resource);
    return !caller.agentId || !a || a === caller.agentId || a === caller.spiffeId;
  });
  const rejected = items.length - kept.length;
  let ref: string | null = null;
  if (kept.length) {
    const now = deps.clock.now();
    const doc = { signal, received_at: now.toISOString(), agent_id: caller.agentId ?? null, items: kept };
    ref = await deps.content.put(
      caller.tenantId,
      `otlp/${signal}/${now.toISOString().slice(0, 10)}/${requestId.replace(/[^\w-]/g, '')}`,
      redact(doc).value,
    );
  }
  return {
    accepted: kept.length,
    rejected,
    errorMessage: rejected
      ? `${rejected} record(s) name another agent (gen_ai.agent.id); an agent may only send its own`
      : '',
    ref,
  };
}
