import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { exportEndpointProblem } from '../adapters/outbound.js';
import { routesOf } from '../../topology.js';
import { API_SETTINGS, apiDeps } from '../adapters/deps.js';
import { DEFAULT_PRICES, DEFAULT_PRICES_AS_OF, type PriceTable } from '../core/cost.js';
import { getTrace, searchTraces } from '../core/traces.js';
import { agentUsage, cohortUsage, orgSummary, priceTables, recomputeCosts, windowOf } from '../core/usage.js';
import type { BudgetBody, ExportBody, PricesBody, SearchBody, SummaryQuery, UsageQuery } from '../schemas.js';
import { EXPORT_AAD } from '../core/export.js';
import { handlerSettings } from '../../shared/settings.js';

const readerOf = (req: ApiRequest) => ({
  tenantId: req.auth!.tenantId,
  ...(req.auth!.roles.includes('admin') || req.auth!.roles.includes('auditor')
    ? {}
    : { agentId: req.auth!.agentId ?? '\u0000' }),
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(API_SETTINGS);

export const handler = createApiHandler(routesOf('observability-api'), {
  'GET /v1/traces/{trace_id}': async (req) => ({
    status: 200,
    body: await getTrace(apiDeps(), readerOf(req), (req.params.trace_id ?? '').toLowerCase()),
  }),
  'POST /v1/traces/search': async (req: ApiRequest<SearchBody>) => ({
    status: 200,
    body: await searchTraces({ ...apiDeps(), now: apiDeps().clock.now() }, readerOf(req), req.body),
  }),
  'GET /v1/usage/prices': async (req) => {
    const t = await apiDeps().spans.getPrices(req.auth!.tenantId);
    return {
      status: 200,
      body: {
        models: t?.models ?? [],
        tools: t?.tools ?? [],
        updated_at: t?.updated_at ?? null,
        defaults: { as_of: DEFAULT_PRICES_AS_OF, ...DEFAULT_PRICES },
      },
    };
  },
  'PUT /v1/usage/prices': async (req: ApiRequest<PricesBody>) => {
    const d = apiDeps();
    const tenant = req.auth!.tenantId;
    const now = d.clock.now();
    const prev = await d.spans.getPrices(tenant);
    const table: PriceTable = { models: req.body.models, tools: req.body.tools };
    await d.spans.putPrices(tenant, table, now.toISOString());
    // Event-time pricing: the earliest effective_from that changed bounds the spans to recompute.
    const key = (x: object) => JSON.stringify(x);
    const before = new Set([...(prev?.models ?? []), ...(prev?.tools ?? [])].map(key));
    const after = new Set([...table.models, ...table.tools].map(key));
    const changed = [...(prev?.models ?? []), ...(prev?.tools ?? []), ...table.models, ...table.tools].filter(
      (p) => before.has(key(p)) !== after.has(key(p)),
    );
    const since = changed.length ? new Date(Math.min(...changed.map((p) => Date.parse(p.effective_from)))) : now;
    const r =
      since < now ? await recomputeCosts(d, tenant, priceTables(table), since, now) : { scanned: 0, changed: 0 };
    return {
      status: 200,
      body: {
        ...table,
        updated_at: now.toISOString(),
        recomputed: { since: since.toISOString(), spans_scanned: r.scanned, spans_changed: r.changed },
      },
    };
  },
  'PUT /v1/usage/budgets': async (req: ApiRequest<BudgetBody>) => {
    const d = apiDeps();
    const b = { ...req.body, updated_at: d.clock.now().toISOString() };
    await d.spans.putBudget(req.auth!.tenantId, b);
    return { status: 200, body: b };
  },
  'GET /v1/usage/budgets': async (req) => ({
    status: 200,
    body: { items: await apiDeps().spans.listBudgets(req.auth!.tenantId) },
  }),
  'PUT /v1/observability/export': async (req: ApiRequest<ExportBody>) => {
    const d = apiDeps();
    const tenant = req.auth!.tenantId;
    // F22: checked before anything is stored (and again at every send, after DNS resolution)
    const problem = await exportEndpointProblem(req.body.endpoint);
    if (problem)
      throw new ValidationError(`export endpoint refused: ${problem}`, [{ path: 'endpoint', message: problem }]);
    const headers = req.body.headers ?? {};
    const enc = await d.cipher.encrypt(tenant, EXPORT_AAD, Buffer.from(JSON.stringify(headers), 'utf8'));
    const cfg = {
      endpoint: req.body.endpoint,
      protocol: req.body.protocol,
      headers_enc: enc,
      header_names: Object.keys(headers).sort(),
      updated_at: d.clock.now().toISOString(),
    };
    await d.spans.putExport(tenant, cfg);
    // Header values (vendor API keys) are never returned.
    return {
      status: 200,
      body: {
        endpoint: cfg.endpoint,
        protocol: cfg.protocol,
        header_names: cfg.header_names,
        updated_at: cfg.updated_at,
      },
    };
  },
  'GET /v1/usage/agents/{id}': async (req: ApiRequest<unknown, UsageQuery>) => {
    const d = apiDeps();
    const id = req.params.id ?? '';
    const reader = readerOf(req);
    if (reader.agentId && reader.agentId !== id) throw new NotFoundError(`agent ${id} not found`);
    return { status: 200, body: await agentUsage(d, reader.tenantId, id, windowOf(req.query, d.clock.now())) };
  },
  'GET /v1/usage/cohorts/{id}': async (req: ApiRequest<unknown, UsageQuery>) => {
    const d = apiDeps();
    return {
      status: 200,
      body: await cohortUsage(d, req.auth!.tenantId, req.params.id ?? '', windowOf(req.query, d.clock.now())),
    };
  },
  'GET /v1/usage/org/summary': async (req: ApiRequest<unknown, SummaryQuery>) => {
    const d = apiDeps();
    return {
      status: 200,
      body: await orgSummary(d, req.auth!.tenantId, req.query.group_by, windowOf(req.query, d.clock.now())),
    };
  },
});
