import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorContext } from '../core/model.js';
import { nextCursor, vendorFetch } from './vendor-http.js';

const oktaId = (what: string) =>
  z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^/?#\s]+$/, what);
const userId = oktaId('an Okta user id or login');
const groupId = oktaId('an Okta group id');
const page = { limit: z.number().int().min(1).max(200).optional(), after: z.string().min(1).max(512).optional() };
const listParams = z.strictObject({
  filter: z.string().min(1).max(1024).optional(),
  q: z.string().min(1).max(256).optional(),
  search: z.string().min(1).max(1024).optional(),
  ...page,
});
/** Okta user profile attributes: the standard ones are strings; custom ones may be scalars. */
const profile = z.record(
  z.string().regex(/^[A-Za-z][\w]{0,63}$/),
  z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]),
);

const OktaConfig = z.strictObject({ base_url: z.url({ protocol: /^https?$/ }) });
const OktaSecret = z.strictObject({ api_token: z.string().min(1).max(512) });

type Query = Record<string, string | number | boolean | undefined>;

/** One Okta Management API call (SSWS token); lists carry `next_after` from the Link header. */
async function call(
  ctx: ConnectorContext,
  method: 'GET' | 'POST',
  path: string,
  opts: { query?: Query; body?: unknown } = {},
): Promise<unknown> {
  const cfg = OktaConfig.safeParse(ctx.config ?? {});
  if (!cfg.success)
    throw new ConnectorError('the okta connector is not configured (PUT /v1/connectors/okta)', 'not_configured', false);
  const secret = OktaSecret.safeParse((await ctx.secret()) ?? {});
  if (!secret.success) throw new ConnectorError('the okta connector has no API token', 'not_configured', false);
  const url = new URL(path, cfg.data.base_url.endsWith('/') ? cfg.data.base_url : `${cfg.data.base_url}/`);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const res = await vendorFetch(ctx, {
    vendor: 'Okta',
    url,
    method,
    headers: { authorization: `SSWS ${secret.data.api_token}` },
    body: opts.body,
    // X-Rate-Limit-Reset: the UTC epoch second at which the current window resets.
    retryAfter: (r, now) => {
      const reset = Number(r.headers.get('x-rate-limit-reset'));
      return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - now) + 100 : undefined;
    },
    errorSummary: (b) =>
      b && typeof b === 'object' ? String((b as { errorSummary?: unknown }).errorSummary ?? '') : undefined,
  });
  const next = nextCursor(res.headers.get('link'));
  return { status: res.status, body: res.body, ...(next ? { next_after: next } : {}) };
}

const lifecycle =
  (verb: string, query?: (p: Record<string, unknown>) => Query) =>
  (ctx: ConnectorContext, p: Record<string, unknown>) =>
    call(ctx, 'POST', `api/v1/users/${encodeURIComponent(String(p.user_id))}/lifecycle/${verb}`, { query: query?.(p) });

const listQuery = (p: Record<string, unknown>): Query => ({
  filter: p.filter as string | undefined,
  q: p.q as string | undefined,
  search: p.search as string | undefined,
  limit: p.limit as number | undefined,
  after: p.after as string | undefined,
});

/** Okta Management API (SSWS token): users (read, list, create, update, lifecycle) and groups (read, list, members). */
export const oktaConnector: Connector = {
  name: 'okta',
  description: 'Okta Management API with SSWS token auth',
  configSchema: OktaConfig,
  secretSchema: OktaSecret,
  operations: {
    'users:read': {
      description: 'GET /api/v1/users/{user_id}, or GET /api/v1/users with filter/q/search/limit/after',
      params: z.union([z.strictObject({ user_id: userId }), listParams]),
      risk: 'low',
    },
    'users:list': {
      description: 'GET /api/v1/users (filter, q, search, limit, after; next_after for the next page)',
      params: listParams,
      risk: 'low',
    },
    'users:create': {
      description: 'POST /api/v1/users?activate=… with a profile (login, email, firstName, lastName, …)',
      params: z.strictObject({
        profile: profile.refine(
          (p) => typeof p.login === 'string' && typeof p.email === 'string',
          'profile needs login and email',
        ),
        activate: z.boolean().optional(),
        group_ids: z.array(groupId).max(20).optional(),
      }),
      risk: 'medium',
    },
    'users:update': {
      description: 'POST /api/v1/users/{user_id} (partial profile update)',
      params: z.strictObject({
        user_id: userId,
        profile: profile.refine((p) => Object.keys(p).length > 0, 'at least one attribute'),
      }),
      risk: 'medium',
    },
    'users:deactivate': {
      description: 'POST /api/v1/users/{user_id}/lifecycle/deactivate',
      params: z.strictObject({ user_id: userId }),
      risk: 'high',
    },
    'users:suspend': {
      description: 'POST /api/v1/users/{user_id}/lifecycle/suspend',
      params: z.strictObject({ user_id: userId }),
      risk: 'high',
    },
    'users:reset_password': {
      description: 'POST /api/v1/users/{user_id}/lifecycle/reset_password?sendEmail=…',
      params: z.strictObject({ user_id: userId, send_email: z.boolean().optional() }),
      risk: 'high',
    },
    'groups:read': {
      description: 'GET /api/v1/groups/{group_id}',
      params: z.strictObject({ group_id: groupId }),
      risk: 'low',
    },
    'groups:list': {
      description: 'GET /api/v1/groups (q, filter, search, limit, after)',
      params: listParams,
      risk: 'low',
    },
    'groups:readMembers': {
      description: 'GET /api/v1/groups/{group_id}/users (limit, after)',
      params: z.strictObject({ group_id: groupId, ...page }),
      risk: 'low',
    },
  },
  async execute(ctx, operation, p) {
    switch (operation) {
      case 'users:read':
        if (typeof p.user_id === 'string') return call(ctx, 'GET', `api/v1/users/${encodeURIComponent(p.user_id)}`);
        return call(ctx, 'GET', 'api/v1/users', { query: listQuery(p) });
      case 'users:list':
        return call(ctx, 'GET', 'api/v1/users', { query: listQuery(p) });
      case 'users:create':
        return call(ctx, 'POST', 'api/v1/users', {
          query: { activate: p.activate === undefined ? true : Boolean(p.activate) },
          body: { profile: p.profile, ...(p.group_ids ? { groupIds: p.group_ids } : {}) },
        });
      case 'users:update':
        return call(ctx, 'POST', `api/v1/users/${encodeURIComponent(String(p.user_id))}`, {
          body: { profile: p.profile },
        });
      case 'users:deactivate':
        return lifecycle('deactivate')(ctx, p);
      case 'users:suspend':
        return lifecycle('suspend')(ctx, p);
      case 'users:reset_password':
        return lifecycle('reset_password', (q) => ({ sendEmail: Boolean(q.send_email ?? false) }))(ctx, p);
      case 'groups:read':
        return call(ctx, 'GET', `api/v1/groups/${encodeURIComponent(String(p.group_id))}`);
      case 'groups:list':
        return call(ctx, 'GET', 'api/v1/groups', { query: listQuery(p) });
      case 'groups:readMembers':
        return call(ctx, 'GET', `api/v1/groups/${encodeURIComponent(String(p.group_id))}/users`, {
          query: { limit: p.limit as number | undefined, after: p.after as string | undefined },
        });
      default:
        throw new ConnectorError(`unknown okta operation ${operation}`, 'unknown_operation', false);
    }
  },
};
