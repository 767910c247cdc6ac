import { timingSafeEqual } from 'node:crypto';
import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import {
  DependencyError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../shared/errors.js';
import type { OutboxEntry } from '../../shared/events.js';
import { newId, newSecret, sha256Hex } from '../../shared/ids.js';
import { logger } from '../../shared/observability.js';
import { routesOf } from '../../topology.js';
import { toIdentity } from '../../identity/index.js';
import { discovery, DISCOVERY_SETTINGS } from '../adapters/deps.js';
import { toDiscoveredView, type Evidence } from '../core/discovered.js';
import { adoptAgent, discoveryStatus, ingestEvidence, type ScanRecord } from '../core/service.js';
import { accountOfRole, type SourceConfig } from '../core/sources.js';
import type { AdoptBody, CreateSourceBody, HandshakeBody, IngestBody, ListAgentsQuery, ScanBody } from '../schemas.js';
import { applyEvidenceEvent, parseEvidenceEvent } from '../core/evidence-event.js';
import { handshakeEvidence } from '../../shared/mcp-handshake.js';
import { handlerSettings } from '../../shared/settings.js';

const traceIds = (req: ApiRequest) => ({
  correlationId: req.headers['x-correlation-id'] ?? req.trace.traceId,
  traceId: req.trace.traceId,
});
const caller = (req: ApiRequest) => ({ tenantId: req.auth!.tenantId, subject: req.auth!.subject });

/** Listing token: which half of the listing (registered, then discovered) and that half's own token. */
interface ListCursor {
  p: 'r' | 'd';
  t?: string;
}
function decodeCursor(token: string | undefined): ListCursor {
  if (!token) return { p: 'r' };
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ListCursor;
    if ((c.p === 'r' || c.p === 'd') && (c.t === undefined || typeof c.t === 'string')) return c;
  } catch {
    /* fall through */
  }
  throw new ValidationError('invalid next_token', [{ path: 'next_token', message: 'not a token this API issued' }]);
}
const encodeCursor = (c: ListCursor): string => Buffer.from(JSON.stringify(c)).toString('base64url');

/** Evidence from the push schema; `origin` names who pushed it. */
function toEvidence(items: IngestBody['agents'], origin: string, now: Date, defaultPlatform?: string): Evidence[] {
  return items.map((it, i) => {
    const platform = it.platform ?? defaultPlatform;
    if (!platform)
      throw new ValidationError('invalid request body', [
        { path: `agents.${i}.platform`, message: 'required (this source has no default platform)' },
      ]);
    const at = it.observed_at ? new Date(it.observed_at) : now;
    if (at.getTime() > now.getTime() + 5 * 60_000)
      throw new ValidationError('invalid request body', [
        { path: `agents.${i}.observed_at`, message: 'is in the future' },
      ]);
    const source = it.source ?? 'list_api';
    return {
      platform,
      platform_native_id: it.platform_native_id,
      source,
      origin,
      confidence: it.confidence ?? (source === 'list_api' ? 1 : 0.6),
      observed_at: at.toISOString(),
      ...(it.name ? { name: it.name } : {}),
      ...(it.owner ? { owner: it.owner } : {}),
      ...(it.declared_capabilities ? { declared_capabilities: it.declared_capabilities } : {}),
      ...(it.principal_arns ? { principal_arns: it.principal_arns } : {}),
      ...(it.observed_actions ? { observed_actions: it.observed_actions } : {}),
      ...(it.deleted ? { deleted: true } : {}),
      signals: ['push'],
    };
  });
}

function publicSource(s: SourceConfig) {
  const { token_hash: _h, tenant_id: _t, ...rest } = s;
  return rest;
}

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DISCOVERY_SETTINGS, ['ARX_SVID_TTL_SECONDS', 'ARX_ORPHAN_GRACE_SECONDS']);

export const handler = createApiHandler(routesOf('discovery-api'), {
  'GET /v1/discovery/agents': async (req: ApiRequest<unknown, ListAgentsQuery>) => {
    const { limit = 50, next_token, sanctioned, source, q, ...idFilter } = req.query;
    const tenantId = req.auth!.tenantId;
    const d = discovery();
    const cursor = decodeCursor(next_token);
    const wantRegistered = sanctioned !== 'false' && (!source || source === 'registration');
    // Identity-only filters (status, cohort) and sanctioned=true leave discovered records out; an
    // adopted/registered record is listed once, as the ARX identity.
    const wantDiscovered = sanctioned !== 'true' && !idFilter.status && !idFilter.cohort && source !== 'registration';
    const items: unknown[] = [];
    let phase = cursor.p;
    let inner = cursor.t;
    if (phase === 'r') {
      if (wantRegistered) {
        const page = await d.registered.list(tenantId, idFilter, limit, inner);
        const ql = q?.toLowerCase();
        for (const r of page.items) {
          if (ql && ![r.name ?? '', r.platform_native_id, r.agent_id].some((s) => s.toLowerCase().includes(ql)))
            continue;
          items.push({ kind: 'registered', ...toIdentity(r), sanctioned: true, source: 'registration' });
        }
        if (page.next_token)
          return { status: 200, body: { items, next_token: encodeCursor({ p: 'r', t: page.next_token }) } };
      }
      phase = 'd';
      inner = undefined;
    }
    if (wantDiscovered && items.length < limit) {
      const page = await d.deps.store.list(
        tenantId,
        {
          ...(idFilter.platform ? { platform: idFilter.platform } : {}),
          ...(idFilter.owner ? { owner: idFilter.owner } : {}),
          ...(source ? { source } : {}),
          ...(q ? { q } : {}),
          // Without a discovery source filter the ARX identity stands for its sanctioned records
          // (listed once). Filtered by a discovery source, no registered entry is listed, so that
          // source's sanctioned records are too: e.g. the MCP clients agents run (mcp_handshake).
          ...(sanctioned === 'false' || !source ? { sanctioned: false } : {}),
        },
        limit - items.length,
        inner,
      );
      items.push(...page.items.map((a) => ({ kind: 'discovered', ...toDiscoveredView(a) })));
      if (page.next_token)
        return { status: 200, body: { items, next_token: encodeCursor({ p: 'd', t: page.next_token }) } };
      return { status: 200, body: { items } };
    }
    return {
      status: 200,
      body: {
        items,
        ...(wantDiscovered && phase === 'd' && items.length >= limit ? { next_token: encodeCursor({ p: 'd' }) } : {}),
      },
    };
  },

  'GET /v1/discovery/agents/{id}': async (req) => {
    const a = await discovery().deps.store.get(req.auth!.tenantId, req.params.id ?? '');
    if (!a) throw new NotFoundError(`no discovered agent ${req.params.id}`);
    return { status: 200, body: toDiscoveredView(a) };
  },

  'GET /v1/discovery/agents/{id}/history': async (req) => {
    const items = await discovery().deps.store.history(req.auth!.tenantId, req.params.id ?? '');
    if (!items.length) throw new NotFoundError(`no discovered agent ${req.params.id}`);
    return { status: 200, body: { items: items.map(toDiscoveredView) } };
  },

  'POST /v1/discovery/agents/{id}/adopt': async (req: ApiRequest<AdoptBody>) => {
    const out = await adoptAgent(discovery().deps, caller(req), req.params.id ?? '', req.body.owner, traceIds(req));
    return {
      status: 201,
      body: out,
      headers: { location: `/v1/identity/agents/${out.agent_id}`, 'cache-control': 'no-store' },
    };
  },

  'POST /v1/discovery/sources': async (req: ApiRequest<CreateSourceBody>) => {
    const d = discovery();
    const now = d.deps.clock.now();
    const base = {
      tenant_id: req.auth!.tenantId,
      source_id: newId('src', now),
      created_at: now.toISOString(),
      created_by: req.auth!.subject,
    };
    let source: SourceConfig;
    let token: string | undefined;
    if (req.body.type === 'aws_account') {
      const roleArn = req.body.config.role_arn;
      let account = roleArn ? accountOfRole(roleArn) : undefined;
      if (!account) {
        try {
          account = await d.ownAccount();
        } catch (e) {
          logger.warn('GetCallerIdentity failed', { error_name: (e as Error).name });
          throw new DependencyError("could not determine this deployment's account");
        }
      }
      source = {
        ...base,
        type: 'aws_account',
        account_id: account,
        regions: [...new Set(req.body.config.regions)],
        ...(roleArn ? { role_arn: roleArn } : {}),
      };
    } else {
      token = newSecret('arxs');
      source = { ...base, type: 'push', platform: req.body.config.platform, regions: [], token_hash: sha256Hex(token) };
    }
    await d.deps.control.putSource(source);
    return {
      status: 201,
      body: { ...publicSource(source), ...(token ? { ingest_token: token } : {}) },
      headers: { location: `/v1/discovery/sources/${source.source_id}`, 'cache-control': 'no-store' },
    };
  },

  'GET /v1/discovery/sources': async (req) => ({
    status: 200,
    body: { items: (await discovery().deps.control.listSources(req.auth!.tenantId)).map(publicSource) },
  }),

  'POST /v1/discovery/scan': async (req: ApiRequest<ScanBody>) => {
    const d = discovery();
    const tenantId = req.auth!.tenantId;
    if (req.body.source_id) {
      const s = await d.deps.control.getSource(tenantId, req.body.source_id);
      if (!s) throw new NotFoundError(`no source ${req.body.source_id}`);
      if (s.type !== 'aws_account')
        throw new ValidationError('invalid request body', [
          { path: 'source_id', message: 'a push source is not scanned; it pushes to its ingest route' },
        ]);
    } else if (!(await d.deps.control.listSources(tenantId)).some((s) => s.type === 'aws_account')) {
      throw new ValidationError('no AWS source is configured: POST /v1/discovery/sources first');
    }
    const now = d.deps.clock.now();
    const scan: ScanRecord = {
      tenant_id: tenantId,
      scan_id: newId('scn', now),
      ...(req.body.source_id ? { source_id: req.body.source_id } : {}),
      status: 'queued',
      found: 0,
      new: 0,
      changed: 0,
      errors: [],
      requested_at: now.toISOString(),
      requested_by: req.auth!.subject,
    };
    const t = traceIds(req);
    // The queued scan and its request commit together (transactional outbox): when the bus is down
    // the scan stays queued and the relay publishes the request when the bus returns.
    const requested: OutboxEntry = {
      detailType: 'discovery.scan.requested',
      detail: {
        tenant_id: tenantId,
        event_id: newId('evt', now),
        correlation_id: t.correlationId,
        trace_id: t.traceId,
        scan_id: scan.scan_id,
      },
    };
    await d.deps.control.putScan(scan, [requested]);
    if ((await d.outbox.flush([requested])) === 0)
      logger.warn('scan request left in the outbox for the relay', { scan_id: scan.scan_id });
    return {
      status: 202,
      body: { scan_id: scan.scan_id, status: 'queued' },
      headers: { location: `/v1/discovery/scan/${scan.scan_id}` },
    };
  },

  'GET /v1/discovery/scan/{id}': async (req) => {
    const s = await discovery().deps.control.getScan(req.auth!.tenantId, req.params.id ?? '');
    if (!s) throw new NotFoundError(`no scan ${req.params.id}`);
    const { tenant_id: _t, ...body } = s;
    return { status: 200, body };
  },

  'GET /v1/discovery/status': async (req) => ({
    status: 200,
    body: await discoveryStatus(discovery().deps, req.auth!.tenantId),
  }),

  'POST /v1/discovery/ingest': async (req: ApiRequest<IngestBody>) => {
    const d = discovery();
    const evidence = toEvidence(req.body.agents, `ingest:${req.auth!.subject}`, d.deps.clock.now());
    const out = await ingestEvidence(d.deps, req.auth!.tenantId, evidence, req.auth!.subject, traceIds(req));
    return { status: 200, body: out };
  },

  'POST /v1/discovery/handshakes': async (req: ApiRequest<HandshakeBody>) => {
    const d = discovery();
    const agentId = req.auth!.agentId;
    if (!agentId) throw new ForbiddenError('only an agent reports the handshakes its gateway saw');
    const at = d.deps.clock.now().toISOString();
    const items = handshakeEvidence(req.body.initialize, { agentId, connector: req.body.connector, at });
    if (!items.length)
      throw new ValidationError('invalid request body', [
        { path: 'initialize.params', message: 'an initialize request with clientInfo {name, version?}' },
      ]);
    const t = traceIds(req);
    // The same validation and merge as the hosted route's handshakes, applied in this request.
    const detail = parseEvidenceEvent({
      event_id: newId('evt'),
      tenant_id: req.auth!.tenantId,
      correlation_id: t.correlationId,
      trace_id: t.traceId,
      source: 'mcp_handshake',
      origin: `mcp:gateway:${req.body.connector}`,
      items,
    });
    if (!detail)
      throw new ValidationError('invalid request body', [
        { path: 'initialize.params', message: 'clientInfo or capabilities out of bounds' },
      ]);
    const out = await applyEvidenceEvent(
      d.deps,
      async (tenantId, id) => (await d.registered.get(tenantId, id)) !== null,
      detail,
    );
    return { status: 200, body: { found: out.found, new: out.new, changed: out.changed, ids: out.ids } };
  },

  'POST /v1/discovery/sources/{id}/ingest': async (req: ApiRequest<IngestBody>) => {
    const d = discovery();
    const m = /^Bearer (arxs_[A-Za-z0-9_-]{16,128})$/.exec((req.headers.authorization ?? '').trim());
    const source = m ? await d.deps.control.findSource(req.params.id ?? '') : null;
    const expected = Buffer.from(source?.token_hash ?? '0'.repeat(64), 'hex');
    const given = Buffer.from(sha256Hex(m?.[1] ?? ''), 'hex');
    if (source?.type !== 'push' || !timingSafeEqual(expected, given))
      throw new UnauthorizedError('a valid source ingest token is required');
    const evidence = toEvidence(req.body.agents, `push:${source.source_id}`, d.deps.clock.now(), source.platform);
    const out = await ingestEvidence(d.deps, source.tenant_id, evidence, `source:${source.source_id}`, traceIds(req));
    await d.deps.control.recordStatus(source.tenant_id, source.source_id, {
      at: d.deps.clock.now().toISOString(),
      ok: true,
    });
    return { status: 200, body: out };
  },
});
