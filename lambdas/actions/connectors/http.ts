import { z } from 'zod';
import { ConnectorError, type Connector } from '../core/model.js';

const HttpConfig = z.strictObject({
  /** Every governed call goes to this origin; paths are relative to it (no open proxy). */
  base_url: z.url({ protocol: /^https?$/ }),
  /** Header the secret's `token` is sent in. @default authorization (as `Bearer <token>`) */
  auth_header: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
});
const HttpSecret = z.strictObject({ token: z.string().min(1).max(4096) });

const path = z
  .string()
  .max(2048)
  .regex(/^\/[^\s#]*$/, 'a path starting with "/"')
  .refine((p) => !p.includes('..') && !p.startsWith('//'), 'no ".." or "//"');
const query = z.record(z.string().max(256), z.string().max(2048)).optional();
const WithoutBody = z.strictObject({ path, query });
const WithBody = z.strictObject({ path, query, body: z.unknown().optional() });

/**
 * F24: one operation per method, so a policy tells a read from a delete:
 * `"request:get": low`, `"request:delete": high` (actions `http:request:get` … `http:request:delete`).
 */
const METHODS = {
  'request:get': 'GET',
  'request:post': 'POST',
  'request:put': 'PUT',
  'request:patch': 'PATCH',
  'request:delete': 'DELETE',
} as const;
type HttpOperation = keyof typeof METHODS;
const isHttpOperation = (op: string): op is HttpOperation => Object.hasOwn(METHODS, op);

const MAX_RESPONSE_BYTES = 64 * 1024;

/** A generic governed HTTP call to the one configured origin, with the secret as credential. */
export const httpConnector: Connector = {
  name: 'http',
  description: 'Generic governed HTTP call to a configured origin',
  configSchema: HttpConfig,
  secretSchema: HttpSecret,
  operations: {
    'request:get': { description: 'GET <path> on the configured origin (path, query)', params: WithoutBody },
    'request:post': { description: 'POST <path> with a JSON body', params: WithBody },
    'request:put': { description: 'PUT <path> with a JSON body', params: WithBody },
    'request:patch': { description: 'PATCH <path> with a JSON body', params: WithBody },
    'request:delete': { description: 'DELETE <path> on the configured origin (path, query)', params: WithoutBody },
  },
  async execute(ctx, operation, p) {
    if (!isHttpOperation(operation))
      throw new ConnectorError(`unknown http operation ${operation}`, 'unknown_operation', false);
    const method = METHODS[operation];
    const cfg = HttpConfig.safeParse(ctx.config ?? {});
    if (!cfg.success)
      throw new ConnectorError(
        'the http connector is not configured (PUT /v1/connectors/http)',
        'not_configured',
        false,
      );
    const base = new URL(cfg.data.base_url);
    const url = new URL(String(p.path), base);
    if (url.origin !== base.origin)
      throw new ConnectorError('the path leaves the configured origin', 'bad_target', false);
    for (const [k, v] of Object.entries((p.query as Record<string, string> | undefined) ?? {}))
      url.searchParams.set(k, v);
    const headers: Record<string, string> = {
      accept: 'application/json',
      traceparent: ctx.traceparent,
      'x-arx-correlation-id': ctx.correlationId,
    };
    const secret = await ctx.secret();
    if (secret?.token) {
      const h = (cfg.data.auth_header ?? 'authorization').toLowerCase();
      headers[h] = h === 'authorization' ? `Bearer ${secret.token}` : secret.token;
    }
    if (p.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await ctx.fetch(url, {
        method,
        headers,
        body: p.body === undefined ? undefined : JSON.stringify(p.body),
        redirect: 'error',
      });
    } catch (e) {
      throw new ConnectorError('the target is unreachable', 'unreachable', true, { cause: e });
    }
    const text = (await res.text()).slice(0, MAX_RESPONSE_BYTES);
    if (!res.ok)
      throw new ConnectorError(
        `the target answered ${res.status}`,
        `http_${res.status}`,
        res.status === 429 || res.status >= 500,
      );
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    return { status: res.status, body };
  },
};
