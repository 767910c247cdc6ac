import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorContext } from '../core/model.js';
import { vendorFetch } from './vendor-http.js';

/** Datadog sites (https://api.<site>). */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
] as const;

const DatadogConfig = z
  .strictObject({
    /** @default datadoghq.com */
    site: z.enum(DATADOG_SITES).optional(),
    /** Explicit API origin (a proxy, or a local Datadog in tests); wins over `site`. */
    base_url: z.url({ protocol: /^https?$/ }).optional(),
  })
  .refine((c) => !(c.site && c.base_url), 'give site or base_url, not both');
const DatadogSecret = z.strictObject({
  api_key: z.string().min(1).max(256),
  application_key: z.string().min(1).max(256),
});

const dashboardId = z.string().regex(/^[a-z0-9]{3}-[a-z0-9]{3}-[a-z0-9]{3}$/, 'a dashboard id like abc-def-ghi');
/** Widgets are Datadog's own JSON; ARX bounds their size and count, Datadog validates them. */
const widget = z.record(z.string(), z.unknown());
const dashboardBody = {
  title: z.string().min(1).max(512),
  layout_type: z.enum(['ordered', 'free']),
  widgets: z.array(widget).max(200),
  description: z.string().max(4096).nullable().optional(),
  tags: z.array(z.string().max(128)).max(32).nullable().optional(),
  template_variables: z.array(z.record(z.string(), z.unknown())).max(50).nullable().optional(),
  notify_list: z.array(z.string().max(256)).max(50).nullable().optional(),
  reflow_type: z.enum(['auto', 'fixed']).optional(),
};

async function call(
  ctx: ConnectorContext,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { query?: Record<string, string | undefined>; body?: unknown } = {},
) {
  const cfg = DatadogConfig.safeParse(ctx.config ?? {});
  if (!cfg.success)
    throw new ConnectorError(
      'the datadog connector is not configured (PUT /v1/connectors/datadog)',
      'not_configured',
      false,
    );
  const secret = DatadogSecret.safeParse((await ctx.secret()) ?? {});
  if (!secret.success)
    throw new ConnectorError('the datadog connector has no API and application keys', 'not_configured', false);
  const origin = cfg.data.base_url ?? `https://api.${cfg.data.site ?? 'datadoghq.com'}`;
  const url = new URL(path, origin.endsWith('/') ? origin : `${origin}/`);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  const res = await vendorFetch(ctx, {
    vendor: 'Datadog',
    url,
    method,
    headers: { 'dd-api-key': secret.data.api_key, 'dd-application-key': secret.data.application_key },
    body: opts.body,
    // X-RateLimit-Reset: seconds until the current rate-limit period resets.
    retryAfter: (r) => {
      const s = Number(r.headers.get('x-ratelimit-reset'));
      return Number.isFinite(s) && s >= 0 ? s * 1000 + 100 : undefined;
    },
    errorSummary: (b) => {
      const errors = b && typeof b === 'object' ? (b as { errors?: unknown }).errors : undefined;
      return Array.isArray(errors) ? errors.map(String).join('; ') : undefined;
    },
  });
  return { status: res.status, body: res.body };
}

/** Datadog API (API key + application key, configurable site): dashboards. */
export const datadogConnector: Connector = {
  name: 'datadog',
  description: 'Datadog API with API and application keys (dashboards)',
  configSchema: DatadogConfig as unknown as z.ZodType<Record<string, unknown>>,
  secretSchema: DatadogSecret,
  operations: {
    'dashboards:list': {
      description: 'GET /api/v1/dashboard (filter_shared, filter_deleted, count, start)',
      params: z.strictObject({
        filter_shared: z.boolean().optional(),
        filter_deleted: z.boolean().optional(),
        count: z.number().int().min(1).max(1000).optional(),
        start: z.number().int().min(0).optional(),
      }),
      risk: 'low',
    },
    'dashboards:read': {
      description: 'GET /api/v1/dashboard/{dashboard_id}',
      params: z.strictObject({ dashboard_id: dashboardId }),
      risk: 'low',
    },
    'dashboards:create': {
      description: 'POST /api/v1/dashboard',
      params: z.strictObject(dashboardBody),
      risk: 'medium',
    },
    'dashboards:update': {
      description: 'PUT /api/v1/dashboard/{dashboard_id} (the whole dashboard)',
      params: z.strictObject({ dashboard_id: dashboardId, ...dashboardBody }),
      risk: 'medium',
    },
    'dashboards:delete': {
      description: 'DELETE /api/v1/dashboard/{dashboard_id}',
      params: z.strictObject({ dashboard_id: dashboardId }),
      risk: 'high',
    },
  },
  async execute(ctx, operation, p) {
    const id = encodeURIComponent(String(p.dashboard_id ?? ''));
    const { dashboard_id: _id, ...body } = p;
    switch (operation) {
      case 'dashboards:list':
        return call(ctx, 'GET', 'api/v1/dashboard', {
          query: {
            'filter[shared]': p.filter_shared === undefined ? undefined : String(p.filter_shared),
            'filter[deleted]': p.filter_deleted === undefined ? undefined : String(p.filter_deleted),
            count: p.count === undefined ? undefined : String(p.count),
            start: p.start === undefined ? undefined : String(p.start),
          },
        });
      case 'dashboards:read':
        return call(ctx, 'GET', `api/v1/dashboard/${id}`);
      case 'dashboards:create':
        return call(ctx, 'POST', 'api/v1/dashboard', { body });
      case 'dashboards:update':
        return call(ctx, 'PUT', `api/v1/dashboard/${id}`, { body });
      case 'dashboards:delete':
        return call(ctx, 'DELETE', `api/v1/dashboard/${id}`);
      default:
        throw new ConnectorError(`unknown datadog operation ${operation}`, 'unknown_operation', false);
    }
  },
};
