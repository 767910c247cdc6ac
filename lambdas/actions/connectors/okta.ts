import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorContext } from '../core/model.js';

const userId = z.string().min(1).max(256).regex(/^[^/?#\s]+$/, 'an Okta user id or login');
const listParams = z.strictObject({
  filter: z.string().min(1).max(1024).optional(),
  q: z.string().min(1).max(256).optional(),
  search: z.string().min(1).max(1024).optional(),
  limit: z.number().int().min(1).max(200).optional(),
});

const OktaConfig = z.strictObject({ base_url: z.url({ protocol: /^https?$/ }) });
const OktaSecret = z.strictObject({ api_token: z.string().min(1).max(512) });

async function call(ctx: ConnectorContext, method: 'GET' | 'POST', path: string, query?: Record<string, string | undefined>): Promise<unknown> {
  const cfg = OktaConfig.safeParse(ctx.config ?? {});
  if (!cfg.success) throw new ConnectorError('the okta connector is not configured (PUT /v1/connectors/okta)', 'not_configured', false);
  const secret = OktaSecret.safeParse((await ctx.secret()) ?? {});
  if (!secret.success) throw new ConnectorError('the okta connector has no API token', 'not_configured', false);
  const url = new URL(path, cfg.data.base_url.endsWith('/') ? cfg.data.base_url : cfg.data.base_url + '/');
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await ctx.fetch(url, {
      method,
      headers: {
        authorization: `SSWS ${secret.data.api_token}`,
        accept: 'application/json',
        'content-type': 'application/json',
        traceparent: ctx.traceparent,
        'x-arx-correlation-id': ctx.correlationId,
      },
      redirect: 'error',
    });
  } catch (e) {
    throw new ConnectorError('Okta is unreachable', 'unreachable', true, { cause: e });
  }
  const text = await res.text();
  if (!res.ok) {
    let summary = '';
    try {
      summary = String((JSON.parse(text) as { errorSummary?: string }).errorSummary ?? '');
    } catch {
      summary = '';
    }
    const retryable = res.status === 429 || res.status >= 500;
    throw new ConnectorError(`Okta answered ${res.status}${summary ? `: ${summary.slice(0, 200)}` : ''}`, `okta_${res.status}`, retryable);
  }
  const body: unknown = text ? JSON.parse(text) : null;
  return { status: res.status, body };
}

const lifecycle = (verb: string, extra?: Record<string, string>) => (ctx: ConnectorContext, p: Record<string, unknown>) =>
  call(ctx, 'POST', `api/v1/users/${encodeURIComponent(String(p.user_id))}/lifecycle/${verb}`, extra);

/** Okta Management API (SSWS token): list/read users and lifecycle operations. */
export const oktaConnector: Connector = {
  name: 'okta',
  description: 'Okta Management API with SSWS token auth',
  configSchema: OktaConfig,
  secretSchema: OktaSecret,
  operations: {
    'users:read': {
      description: 'GET /api/v1/users/{user_id}, or GET /api/v1/users with filter/q/search/limit',
      params: z.union([z.strictObject({ user_id: userId }), listParams]),
    },
    'users:list': { description: 'GET /api/v1/users', params: listParams },
    'users:deactivate': { description: 'POST /api/v1/users/{user_id}/lifecycle/deactivate', params: z.strictObject({ user_id: userId }) },
    'users:suspend': { description: 'POST /api/v1/users/{user_id}/lifecycle/suspend', params: z.strictObject({ user_id: userId }) },
    'users:reset_password': {
      description: 'POST /api/v1/users/{user_id}/lifecycle/reset_password',
      params: z.strictObject({ user_id: userId, send_email: z.boolean().optional() }),
    },
  },
  async execute(ctx, operation, p) {
    switch (operation) {
      case 'users:read':
        if (typeof p.user_id === 'string') return call(ctx, 'GET', `api/v1/users/${encodeURIComponent(p.user_id)}`);
        return listUsers(ctx, p);
      case 'users:list':
        return listUsers(ctx, p);
      case 'users:deactivate':
        return lifecycle('deactivate')(ctx, p);
      case 'users:suspend':
        return lifecycle('suspend')(ctx, p);
      case 'users:reset_password':
        return lifecycle('reset_password', { sendEmail: String(p.send_email ?? false) })(ctx, p);
      default:
        throw new ConnectorError(`unknown okta operation ${operation}`, 'unknown_operation', false);
    }
  },
};

function listUsers(ctx: ConnectorContext, p: Record<string, unknown>): Promise<unknown> {
  return call(ctx, 'GET', 'api/v1/users', {
    filter: p.filter as string | undefined,
    q: p.q as string | undefined,
    search: p.search as string | undefined,
    limit: p.limit === undefined ? undefined : String(p.limit),
  });
}
