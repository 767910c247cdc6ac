import { routesOf } from '../../topology.js';
import { createApiHandler, type ApiRequest, type AuthContext } from '../../shared/http.js';
import { handlerSettings, perEnvironment, readSettings } from '../../shared/settings.js';
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { CachedRevocationChecker, DynamoRevocationList } from '../../shared/revocation.js';
import { PolicyService, EnforcementRecorder, type EnforcementEvent } from '../core/service.js';
import { TenantBundlePdp } from '../core/decision-point.js';
import { S3BundleStore } from '../adapters/s3-bundles.js';
import { TenantBundleSigner } from '../core/signing.js';
import { DynamoBundleCatalog } from '../adapters/dynamo-bundle-catalog.js';
import { DynamoEnforcementLog, DynamoVersionCounter, RevocationTableIds } from '../adapters/dynamo-control.js';
import { inventoryPrincipalStatus, logDecisionPointError } from '../pdp.js';
import type { EnforcementLogInput, EvaluateInput, ListBundlesQuery, PushBundleInput } from '../schemas.js';
import { tenantSigner } from '../../identity/index.js';

const RESOURCES = [
  'ARX_BUNDLE_BUCKET',
  'ARX_CONTROL_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_SIGNING_KEY_ARN',
  'ARX_EVENT_BUS',
] as const;
const deps = perEnvironment(() => {
  const c = readSettings(RESOURCES);
  const clock = systemClock;
  const store = new S3BundleStore(c.ARX_BUNDLE_BUCKET);
  // each tenant's bundles are signed with, and verified against, that tenant's own key
  const signer = new TenantBundleSigner(tenantSigner());
  const events = new EventBridgePublisher(c.ARX_EVENT_BUS);
  const drl = new DynamoRevocationList(c.ARX_REVOCATION_TABLE);
  const log = new DynamoEnforcementLog(c.ARX_CONTROL_TABLE, clock);
  const outbox = new Outbox(c.ARX_CONTROL_TABLE, events);
  const service = new PolicyService({
    repo: store,
    versions: new DynamoVersionCounter(c.ARX_CONTROL_TABLE),
    signer,
    revoked: new RevocationTableIds(drl, clock),
    events: outbox,
    clock,
    catalog: new DynamoBundleCatalog(c.ARX_CONTROL_TABLE),
  });
  const pdp = new TenantBundlePdp({
    source: store,
    signer,
    revocation: new CachedRevocationChecker(drl, clock),
    principals: inventoryPrincipalStatus(c.ARX_INVENTORY_TABLE, clock),
    onError: logDecisionPointError,
    clock,
    recorder: new EnforcementRecorder(log, events, clock, outbox),
    pepTopology: 'remote',
  });
  return { service, pdp, log, clock, events, outbox };
});

const authOf = (req: ApiRequest): AuthContext => {
  if (!req.auth) throw new UnauthorizedError('a bearer token is required');
  return req.auth;
};
const isAdmin = (a: AuthContext): boolean => a.roles.includes('admin');
const traceOf = (req: ApiRequest) => ({
  correlation_id: req.headers['x-correlation-id'] ?? req.requestId,
  trace_id: req.trace.traceId,
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(RESOURCES, ['ARX_ORPHAN_GRACE_SECONDS']);

export const handler = createApiHandler(routesOf('policy-api'), {
  'GET /v1/policies/bundles': async (req: ApiRequest<unknown, ListBundlesQuery>) => {
    const a = authOf(req);
    const q = req.query;
    return {
      status: 200,
      body: await deps().service.listBundles(a.tenantId, { limit: q.limit ?? 50, next_token: q.next_token }),
    };
  },
  'POST /v1/policies/bundles': async (req: ApiRequest<PushBundleInput>) => {
    const a = authOf(req);
    return { status: 201, body: await deps().service.push(a.tenantId, req.body, a.subject) };
  },
  'POST /v1/policies/bundles/{id}/promote': async (req) => {
    const a = authOf(req);
    return { status: 200, body: await deps().service.promote(a.tenantId, req.params.id!, a.subject, traceOf(req)) };
  },
  'GET /v1/policies/bundles/{id}/diff/{prev_id}': async (req) => {
    const a = authOf(req);
    return { status: 200, body: await deps().service.diff(a.tenantId, req.params.id!, req.params.prev_id!) };
  },
  'POST /v1/policies/evaluate': async (req: ApiRequest<EvaluateInput>) => {
    const a = authOf(req);
    if (!isAdmin(a) && a.agentId !== req.body.principal.id)
      throw new ForbiddenError('an agent may only ask about itself');
    const { pdp } = deps();
    const t = traceOf(req);
    const d = await pdp.decide(
      {
        tenantId: a.tenantId,
        principal: req.body.principal,
        action: req.body.action,
        ...(req.body.resource ? { resource: req.body.resource } : {}),
        ...(req.body.context ? { context: req.body.context } : {}),
      },
      t,
    );
    return { status: 200, body: d };
  },
  'POST /v1/enforcement/log': async (req: ApiRequest<EnforcementLogInput>) => {
    const a = authOf(req);
    const { log, clock, outbox } = deps();
    if (!isAdmin(a) && req.body.events.some((e) => e.agent_id !== a.agentId))
      throw new ForbiddenError('an agent may only log its own enforcement events');
    const now = clock.now();
    const events: EnforcementEvent[] = req.body.events.map((e) => ({
      ...e,
      event_id: e.event_id ?? newId('enf', now),
      tenant_id: a.tenantId,
    }));
    // Each record commits with its policy.decision in the outbox; the relay publishes what a down bus leaves.
    const pairs = events.map((e) => ({
      event: e,
      entry: {
        detailType: 'policy.decision' as const,
        detail: {
          tenant_id: a.tenantId,
          correlation_id: e.correlation_id ?? e.event_id,
          trace_id: e.trace_id ?? req.trace.traceId,
          event_id: e.event_id,
          agent_id: e.agent_id,
          action: e.action_name,
          effect: e.decision,
          pep_topology: e.pep_topology,
          bundle_version: e.bundle_version ?? null,
        },
      },
    }));
    await log.putWithEvents(pairs);
    await outbox.flush(pairs.map((p) => p.entry));
    return { status: 202, body: { accepted: events.length, event_ids: events.map((e) => e.event_id) } };
  },
});
