import { routesOf } from '../../topology.js';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { publicView, type Termination } from '../core/model.js';
import {
  emergencyStop,
  getTermination,
  terminateAgent,
  terminateCohort,
  type Caller,
  type TraceIds,
} from '../core/terminate.js';
import { apiDeps, platforms, store } from '../adapters/deps.js';
import type { KillTargetBody, TerminateBody } from '../schemas.js';
import { handlerSettings } from '../../shared/settings.js';

const callerOf = (req: ApiRequest): Caller => {
  if (!req.auth) throw new UnauthorizedError('a bearer token is required');
  return { tenantId: req.auth.tenantId, subject: req.auth.subject };
};
const traceOf = (req: ApiRequest): TraceIds => ({
  correlationId: req.headers['x-correlation-id']?.slice(0, 128) || newId('cor'),
  traceId: req.trace.traceId,
});

/** 202 for a new termination; 200 with the existing one when the agent was already terminated. */
const started = (t: Termination, created: boolean) => ({
  status: created ? 202 : 200,
  body: { ...publicView(t), ...(created ? {} : { existing: true }) },
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings([
  'ARX_TERMINATION_STATE_MACHINE_ARN',
  'ARX_CONTROL_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_EVENT_BUS',
  'ARX_MAX_TOKEN_TTL_S',
]);

export const handler = createApiHandler(routesOf('killswitch-api'), {
  'POST /v1/agents/{id}/terminate': async (req: ApiRequest<TerminateBody>) => {
    const r = await terminateAgent(apiDeps(), callerOf(req), req.params.id!, req.body.reason, traceOf(req));
    return started(r.termination, r.created);
  },
  'POST /v1/cohorts/{id}/terminate': async (req: ApiRequest<TerminateBody>) => {
    const r = await terminateCohort(apiDeps(), callerOf(req), req.params.id!, req.body.reason, traceOf(req));
    return started(r.termination, r.created);
  },
  'POST /v1/org/{tenant_id}/emergency_stop': async (req: ApiRequest<TerminateBody>) => {
    const r = await emergencyStop(apiDeps(), callerOf(req), req.params.tenant_id!, req.body.reason, traceOf(req));
    if (r.kind === 'pending_quorum') {
      return {
        status: 202,
        body: {
          status: 'pending_quorum',
          request_id: r.request.request_id,
          requested_by: r.request.requested_by,
          expires_at: r.request.expires_at,
          detail: 'a second, different admin must confirm within 10 minutes',
        },
      };
    }
    return started(r.outcome.termination, r.outcome.created);
  },
  'GET /v1/terminations/{id}': async (req) => {
    const t = await getTermination(store(), callerOf(req), req.params.id!);
    return { status: 200, body: publicView(t) };
  },
  'PUT /v1/killswitch/platforms/{platform}': async (req: ApiRequest<KillTargetBody>) => {
    const caller = callerOf(req);
    const platform = req.params.platform!;
    await platforms().putTarget(caller.tenantId, platform, req.body, caller.subject, new Date().toISOString());
    return {
      status: 200,
      body: { platform, url: req.body.url, ...(req.body.timeout_ms ? { timeout_ms: req.body.timeout_ms } : {}) },
    };
  },
});
