import { routesOf } from '../../topology.js';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { handlerSettings } from '../../shared/settings.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { DASHBOARD_SETTINGS, dashboardDeps } from '../adapters/deps.js';
import { checkWindow, dashboardSummary } from '../core/summary.js';
import type { SummaryQuery } from '../schemas.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DASHBOARD_SETTINGS);

export const handler = createApiHandler(routesOf('dashboard-api'), {
  'GET /v1/dashboard/summary': async (req: ApiRequest<unknown, SummaryQuery>) => {
    if (!req.auth) throw new UnauthorizedError('a bearer token is required');
    const w = checkWindow(req.query);
    return { status: 200, body: await dashboardSummary(dashboardDeps(), req.auth.tenantId, w) };
  },
});
