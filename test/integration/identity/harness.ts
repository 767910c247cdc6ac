/**
 * Identity integration harness: provisions the synthesised stack in the shared moto under a
 * unique prefix, points the identity handlers at it and calls them with API Gateway v2 events.
 */
import { apiEvent } from '../../support/api-event.js';
import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { provisionTestStack } from '../../support/stack.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';

export const ISSUER_BASE = 'https://arx.identity.test';

import { lambdaContext } from '../../../local/runtime.js';
import { checkResponse } from '../../support/contract.js';

export { lambdaContext };

type Handler = (event: unknown, ctx: Context) => Promise<unknown>;
export interface CallResult {
  status: number;
  headers: Record<string, string>;
  json: any;
  body?: string;
}

export async function setupIdentity(extraEnv: Record<string, string> = {}) {
  const { env } = await provisionTestStack();
  Object.assign(process.env, env, { ARX_SVID_ISSUER_BASE: ISSUER_BASE, ARX_ORPHAN_GRACE_SECONDS: '0', ...extraEnv });
  const api = (await import('../../../lambdas/identity/handlers/api.js')).handler as unknown as Handler;
  const credentials = (await import('../../../lambdas/identity/handlers/credentials.js')).handler as unknown as Handler;
  const call = async (
    fn: Handler,
    name: string,
    method: string,
    routePath: string,
    opts: { params?: Record<string, string>; auth?: AuthContext; body?: string; headers?: Record<string, string> } = {},
  ): Promise<CallResult> => {
    const event = apiEvent({ method, route: routePath, ...opts });
    const r = (await fn(event, lambdaContext(name))) as {
      statusCode: number;
      body?: string;
      headers?: Record<string, string>;
    };
    let json: any;
    try {
      json = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      json = undefined;
    }
    // What the local runtime would send: the route's declared contract holds for it (test/support/contract.ts).
    checkResponse(method, event.rawPath, {
      status: r.statusCode,
      contentType: r.headers?.['content-type'] ?? (r.body === undefined ? '' : 'application/json'),
      text: r.body ?? '',
    });
    return { status: r.statusCode, headers: r.headers ?? {}, json, body: r.body };
  };
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const form = (params: Record<string, string>, headers: Record<string, string> = {}) => ({
    body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  return {
    env: { ...env, ARX_SVID_ISSUER_BASE: ISSUER_BASE } as Record<string, string>,
    api: (method: string, routePath: string, opts: Parameters<typeof call>[4] = {}) =>
      call(api, 'identity-api', method, routePath, opts),
    credentials: (method: string, routePath: string, opts: Parameters<typeof call>[4] = {}) =>
      call(credentials, 'identity-credentials', method, routePath, opts),
    json,
    form,
  };
}

export const admin = (tenantId: string, subject = 'admin-1'): AuthContext => ({
  tenantId,
  subject,
  roles: ['admin'],
  principalType: 'human',
});
export const auditor = (tenantId: string): AuthContext => ({
  tenantId,
  subject: 'auditor-1',
  roles: ['auditor'],
  principalType: 'human',
});
export const uniqueTenant = (): string => `t${randomBytes(4).toString('hex')}`;
export const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const BOOT = 'urn:arx:params:oauth:token-type:bootstrap';
export const JWT = 'urn:ietf:params:oauth:token-type:jwt';

let shared: ReturnType<typeof setupIdentity> | undefined;
/** One provisioned stack for every identity suite in this worker (provisioning is the slow part). */
export const sharedIdentity = (): ReturnType<typeof setupIdentity> => (shared ??= setupIdentity());
