import { createApiHandler, type ApiRequest, type ApiResult } from '../../shared/http.js';
import { ValidationError } from '../../shared/errors.js';
import { logger } from '../../shared/observability.js';
import { routesOf } from '../../topology.js';
import { INGEST_SETTINGS, ingestDeps } from '../adapters/deps.js';
import { ingestSpans } from '../core/ingest.js';
import {
  decodeLogs,
  decodeMetrics,
  decodeTraces,
  encodeResponse,
  OtlpDecodeError,
  type Encoding,
} from '../core/otlp.js';
import { bodyOf, encodingOf, pressureResponse } from '../core/receiver.js';
import { storeSignals } from '../core/signals.js';
import { priceTables } from '../core/usage.js';
import { handlerSettings } from '../../shared/settings.js';
import { evidenceEntries, reportEvidence } from '../../shared/discovery-evidence.js';
import { agentsNamedBy } from '../core/agent-evidence.js';
import type { SpanRecord } from '../core/model.js';

/**
 * Spans naming an agent ARX does not know become discovery evidence (`otlp_inference`). Best
 * effort and bounded in time: discovery being down never fails or holds up ingest.
 */
async function reportUnknownAgents(
  d: ReturnType<typeof ingestDeps>,
  caller: ReturnType<typeof callerOf>,
  records: readonly SpanRecord[],
): Promise<void> {
  try {
    const named = agentsNamedBy(records, caller);
    if (!named.length) return;
    const items = await d.agentEvidence.toReport(caller.tenantId, named);
    if (!items.length) return;
    const at = d.clock.now().toISOString();
    const outcome = await reportEvidence(
      d.outbox,
      evidenceEntries(caller.tenantId, 'otlp_inference', 'otlp', items),
      at,
    );
    logger.info('otlp agents reported to discovery', { agents: items.length, outcome });
  } catch (e) {
    logger.warn('otlp discovery evidence skipped', { error_name: (e as Error).name });
  }
}

const callerOf = (req: ApiRequest) => ({
  tenantId: req.auth!.tenantId,
  ...(req.auth!.principalType === 'agent' && req.auth!.agentId ? { agentId: req.auth!.agentId } : {}),
  ...(req.auth!.spiffeId ? { spiffeId: req.auth!.spiffeId } : {}),
});

function decoded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OtlpDecodeError) throw new ValidationError(e.message);
    throw e;
  }
}

const reply = (signal: 'traces' | 'logs' | 'metrics', enc: Encoding, rejected: number, msg: string): ApiResult => {
  const r = encodeResponse(signal, enc, rejected, msg);
  return { status: 200, raw: true, base64: r.base64, body: r.body, headers: { 'content-type': r.contentType } };
};

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(INGEST_SETTINGS);

export const handler = createApiHandler(routesOf('observability-otlp'), {
  'POST /v1/otlp/v1/traces': async (req) => {
    const enc = encodingOf(req.headers);
    const { spans, invalid } = decoded(() => decodeTraces(bodyOf(req.headers, req.rawBytes), enc));
    const d = ingestDeps();
    try {
      const prices = priceTables(await d.spans.getPrices(req.auth!.tenantId));
      const r = await ingestSpans(
        { spans: d.spans, content: d.content, prices, now: d.clock.now() },
        callerOf(req),
        spans,
        invalid,
      );
      logger.info('otlp traces ingested', { accepted: r.accepted, rejected: r.rejected });
      // Model spend moves the agents' budget counters (what the next governed action is checked against).
      const byAgent = new Map<string, number>();
      for (const s of r.records)
        if (s.agent_id && s.cost_usd) byAgent.set(s.agent_id, (byAgent.get(s.agent_id) ?? 0) + s.cost_usd);
      for (const [agent, usd] of byAgent) await d.budgets.record(req.auth!.tenantId, agent, usd);
      if (r.records.length) await d.cold.putBatch(req.auth!.tenantId, req.requestId, r.records);
      await reportUnknownAgents(d, callerOf(req), r.records);
      return reply('traces', enc, r.rejected, r.errorMessage);
    } catch (e) {
      const p = pressureResponse(e);
      if (p) {
        logger.warn('otlp ingest under pressure', { error_name: (e as Error).name, status: p.status });
        return p;
      }
      throw e;
    }
  },
  'POST /v1/otlp/v1/logs': async (req) => {
    const enc = encodingOf(req.headers);
    const records = decoded(() => decodeLogs(bodyOf(req.headers, req.rawBytes), enc));
    const d = ingestDeps();
    try {
      const r = await storeSignals(d, callerOf(req), 'logs', records, req.requestId);
      return reply('logs', enc, r.rejected, r.errorMessage);
    } catch (e) {
      const p = pressureResponse(e);
      if (p) {
        logger.warn('otlp ingest under pressure', { error_name: (e as Error).name, status: p.status });
        return p;
      }
      throw e;
    }
  },
  'POST /v1/otlp/v1/metrics': async (req) => {
    const enc = encodingOf(req.headers);
    const points = decoded(() => decodeMetrics(bodyOf(req.headers, req.rawBytes), enc));
    const d = ingestDeps();
    try {
      const r = await storeSignals(d, callerOf(req), 'metrics', points, req.requestId);
      return reply('metrics', enc, r.rejected, r.errorMessage);
    } catch (e) {
      const p = pressureResponse(e);
      if (p) {
        logger.warn('otlp ingest under pressure', { error_name: (e as Error).name, status: p.status });
        return p;
      }
      throw e;
    }
  },
});
