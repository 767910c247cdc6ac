import { routesOf } from '../../topology.js';
import { createApiHandler } from '../../shared/http.js';
import { NotFoundError } from '../../shared/errors.js';
import { handlerSettings } from '../../shared/settings.js';
import { API_SETTINGS, apiDeps } from '../adapters/deps.js';
import { ALERT_SCORE } from '../core/drift.js';
import type { DriftView } from '../schemas.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(API_SETTINGS);

/** Where the method is written down (the response names it so a reader can check the numbers). */
const METHOD =
  'EWMA z-scores (hourly rate, denial rate, cost per day), Jensen-Shannon divergence of the operation mix, new connectors; see docs/drift.md';

export const handler = createApiHandler(routesOf('drift-api'), {
  'GET /v1/agents/{id}/drift': async (req) => {
    const tenantId = req.auth!.tenantId;
    const agentId = req.params.id ?? '';
    const { drift, inventory } = apiDeps();
    // another tenant's agent is not found either: the tenant comes from the token
    if (!(await inventory.principal(tenantId, agentId))) throw new NotFoundError(`agent ${agentId} not found`);
    const r = await drift.get(tenantId, agentId);
    const body: DriftView = { ...(r as DriftView), alert_score: ALERT_SCORE, method: METHOD };
    return { status: 200, body };
  },
});
