import { routesOf } from '../../topology.js';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoRevocationList } from '../../shared/revocation.js';
import { PolicyService } from '../core/service.js';
import { Recommendations } from '../core/recommendations.js';
import { S3BundleStore } from '../adapters/s3-bundles.js';
import { TenantBundleSigner, verifyBundle } from '../core/signing.js';
import { DynamoVersionCounter, RevocationTableIds } from '../adapters/dynamo-control.js';
import { DynamoRecommendationStore } from '../adapters/dynamo-recommendations.js';
import type { RecommendationsQuery } from '../schemas.js';
import { tenantSigner } from '../../identity/index.js';
// Composition root: approvals through the actions facade, drift through the drift facade (pinned
// back-edges in scripts/capability-graph.ts: actions and drift both decide through policy).
import { createApprovalHistory } from '../../actions/index.js';
import { createDriftReader } from '../../drift/index.js';

const RESOURCES = [
  'ARX_BUNDLE_BUCKET',
  'ARX_CONTROL_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_SIGNING_KEY_ARN',
  'ARX_EVENT_BUS',
] as const;

const deps = perEnvironment(() => {
  const c = readSettings(RESOURCES);
  const clock = systemClock;
  const bundles = new S3BundleStore(c.ARX_BUNDLE_BUCKET);
  const signer = new TenantBundleSigner(tenantSigner());
  const service = new PolicyService({
    repo: bundles,
    versions: new DynamoVersionCounter(c.ARX_CONTROL_TABLE),
    signer,
    revoked: new RevocationTableIds(new DynamoRevocationList(c.ARX_REVOCATION_TABLE), clock),
    events: new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS)),
    clock,
  });
  return new Recommendations({
    approvals: createApprovalHistory(c.ARX_CONTROL_TABLE),
    drift: createDriftReader(c.ARX_CONTROL_TABLE),
    store: new DynamoRecommendationStore(c.ARX_CONTROL_TABLE),
    bundles: {
      // the live bundle as a PDP would load it: verified against the tenant's keys
      live: async (tenantId) => {
        const m = await bundles.getLive(tenantId);
        const b = m ? await bundles.get(tenantId, m.bundle_id) : null;
        if (!b) return null;
        const v = await verifyBundle(b, tenantId, signer);
        return v.ok ? v.bundle : null;
      },
    },
    push: (tenantId, input) => service.push(tenantId, input),
    clock,
  });
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(RESOURCES);

export const handler = createApiHandler(routesOf('policy-recommendations'), {
  'GET /v1/policies/recommendations': async (req: ApiRequest<unknown, RecommendationsQuery>) => {
    const q = req.query;
    return { status: 200, body: { items: await deps().list(req.auth!.tenantId, q.min_approvals, q.window) } };
  },
  'POST /v1/policies/recommendations/{id}/apply': async (req) => {
    return { status: 201, body: await deps().apply(req.auth!.tenantId, req.params.id ?? '') };
  },
});
