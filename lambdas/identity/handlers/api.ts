import { createApiHandler, validate, type ApiRequest } from '../../shared/http.js';
import { DependencyError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { sha256B64, TENANT_ID } from '../../shared/ids.js';
import { logger } from '../../shared/observability.js';
import { routesOf } from '../../topology.js';
import { RevokeAgentBody, type AssignOwnerBody, type LeaverBody, type RegisterAgentBody } from '../schemas.js';
import { getAgent, registerAgent, toIdentity } from '../core/agents.js';
import { revokeAgent, rotateAgent } from '../core/lifecycle.js';
import { assignOwner, listOrphans, ownerLeft } from '../core/owners.js';
import { exchangeToken, OAuthError, parseTokenForm } from '../core/token-exchange.js';
import { IDENTITY_SETTINGS, identityService } from '../service.js';
import { handlerSettings } from '../../shared/settings.js';

const traceIds = (req: ApiRequest) => ({
  correlationId: req.headers['x-correlation-id'] ?? req.trace.traceId,
  traceId: req.trace.traceId,
});
const caller = (req: ApiRequest) => ({ tenantId: req.auth!.tenantId, subject: req.auth!.subject });
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** RFC 6749 §5.1/§5.2 responses: JSON, never cached; errors carry only `error` and `error_description`. */
async function tokenEndpoint(req: ApiRequest) {
  try {
    const form = parseTokenForm(req.rawBody, {
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
    });
    const out = await exchangeToken(identityService().tokenDeps, form, traceIds(req));
    return { status: 200, body: out, headers: NO_STORE };
  } catch (e) {
    let err: OAuthError;
    if (e instanceof OAuthError) err = e;
    else if (e instanceof DependencyError)
      err = new OAuthError('temporarily_unavailable', 'no token can be issued right now', { cause: e });
    else throw e;
    logger.info('token request refused', { error: err.error, cause_name: (err.cause as Error | undefined)?.name });
    const headers: Record<string, string> = { ...NO_STORE };
    if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="arx", error="invalid_client"';
    return { status: err.status, body: err.toBody(), headers };
  }
}

async function jwks(req: ApiRequest) {
  const tenant = req.params.tenant_id ?? '';
  if (!TENANT_ID.test(tenant)) throw new NotFoundError('no such tenant');
  const set = await identityService().jwks(tenant);
  const body = JSON.stringify(set);
  const etag = `"${sha256B64(body)}"`;
  const headers = {
    'content-type': 'application/jwk-set+json',
    // Short enough that a rotated-in key is seen quickly; verifiers also refetch on an unknown kid.
    'cache-control': 'public, max-age=300, stale-while-revalidate=60',
    etag,
  };
  if (req.headers['if-none-match'] === etag) return { status: 304, headers };
  return { status: 200, body, raw: true, headers };
}

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(IDENTITY_SETTINGS);

export const handler = createApiHandler(routesOf('identity-api'), {
  'POST /v1/identity/agents': async (req: ApiRequest<RegisterAgentBody>) => {
    const out = await registerAgent(identityService().lifecycleDeps, caller(req), req.body, traceIds(req));
    return {
      status: 201,
      body: out,
      headers: { location: `/v1/identity/agents/${out.agent_id}`, 'cache-control': 'no-store' },
    };
  },
  'GET /v1/identity/agents/orphans': async (req) => ({
    status: 200,
    body: { items: await listOrphans(identityService().ownerDeps, req.auth!.tenantId) },
  }),
  'GET /v1/identity/agents/{id}': async (req) => {
    const rec = await getAgent(identityService().lifecycleDeps, req.auth!.tenantId, req.params.id ?? '');
    return { status: 200, body: toIdentity(rec) };
  },
  'POST /v1/identity/agents/{id}/rotate': async (req) => {
    const out = await rotateAgent(identityService().lifecycleDeps, caller(req), req.params.id ?? '', traceIds(req));
    return { status: 200, body: out, headers: { 'cache-control': 'no-store' } };
  },
  'POST /v1/identity/agents/{id}/revoke': async (req) => {
    let parsed: unknown = {};
    if (req.rawBody.trim()) {
      const ctype = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (ctype !== 'application/json') throw new ValidationError('expected application/json');
      try {
        parsed = JSON.parse(req.rawBody);
      } catch {
        throw new ValidationError('request body is not valid JSON');
      }
    }
    const body = validate(RevokeAgentBody, parsed, 'request body');
    const out = await revokeAgent(
      identityService().lifecycleDeps,
      caller(req),
      req.params.id ?? '',
      'revoked',
      traceIds(req),
      body.reason,
    );
    return { status: 200, body: out };
  },
  'POST /v1/identity/agents/{id}/owner': async (req: ApiRequest<AssignOwnerBody>) => ({
    status: 200,
    body: await assignOwner(
      identityService().ownerDeps,
      caller(req),
      req.params.id ?? '',
      req.body.owner,
      traceIds(req),
    ),
  }),
  'POST /v1/identity/leavers': async (req: ApiRequest<LeaverBody>) => ({
    status: 200,
    body: await ownerLeft(identityService().ownerDeps, caller(req), req.body.oidc_sub, traceIds(req)),
  }),
  'POST /v1/identity/keys/rotate': async (req) => ({
    status: 200,
    body: await identityService().keys.rotate(req.auth!.tenantId),
  }),
  'POST /v1/identity/token': tokenEndpoint,
  'GET /tenants/{tenant_id}/.well-known/jwks.json': jwks,
});
