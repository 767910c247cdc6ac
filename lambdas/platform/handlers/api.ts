import { createApiHandler } from '../../shared/http.js';
import { routesOf, TOPOLOGY } from '../../topology.js';
import { buildOpenApi } from '../core/openapi.js';
import { handlerSettings } from '../../shared/settings.js';

let doc: Record<string, unknown> | undefined;

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings();

export const handler = createApiHandler(routesOf('platform-api'), {
  'GET /healthz': async () => ({ status: 200, body: { status: 'ok' } }),
  'GET /openapi.json': async () => {
    doc ??= buildOpenApi(TOPOLOGY.routes, { version: '0.1.0' });
    return { status: 200, body: doc, headers: { 'cache-control': 'public, max-age=300' } };
  },
});
