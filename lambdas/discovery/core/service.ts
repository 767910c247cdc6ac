import { ConflictError, NotFoundError } from '../../shared/errors.js';
import type { Caller, TraceIds } from '../../shared/ports.js';
import type { Clock } from '../../shared/clock.js';
import type { OutboxEntry } from '../../shared/events.js';
import { newId } from '../../shared/ids.js';
import { traceFrom } from '../../shared/trace.js';
import type { Page } from '../../shared/ports.js';
import {
  adoptRecord,
  auditInferenceConfidence,
  discoveredIdOf,
  mergeEvidence,
  type DiscoveredAgent,
  type DiscoveredFilter,
  type DiscoveredOwner,
  type DiscoveryChangeKind,
  type Evidence,
} from './discovered.js';
import { interpretCloudTrail } from './cloudtrail.js';
import type { AgentSource, SourceConfig } from './sources.js';

/** Payload of an `inventory.change` event about a discovered agent. */
export interface DiscoveryChange {
  readonly event_id: string;
  readonly tenant_id: string;
  /** The discovered id (`dag_…`); `arx_agent_id` names the ARX identity once adopted. */
  readonly agent_id: string;
  readonly change: DiscoveryChangeKind;
  readonly version: number;
  readonly status: 'sanctioned' | 'unsanctioned' | 'deleted';
  readonly sanctioned: boolean;
  readonly platform: string;
  readonly platform_native_id: string;
  readonly arx_agent_id?: string;
  readonly at: string;
  readonly actor: string;
  readonly correlation_id: string;
  readonly trace_id: string;
}

/** Port: discovered agents (SCD-2), in the inventory table beside the registered ones. */
export interface DiscoveryStore {
  get(tenantId: string, id: string): Promise<DiscoveredAgent | null>;
  /**
   * Creates (`prev` null), writes a new version closing `prev` (with `change`, atomically through
   * the outbox), or updates activity in place (`change` null). ConflictError when `prev` moved on.
   */
  save(prev: DiscoveredAgent | null, next: DiscoveredAgent, change: DiscoveryChange | null): Promise<void>;
  history(tenantId: string, id: string): Promise<DiscoveredAgent[]>;
  list(tenantId: string, filter: DiscoveredFilter, limit: number, nextToken?: string): Promise<Page<DiscoveredAgent>>;
  /** The ARX agent id registered for (platform, native id), or null. */
  registeredAgentId(tenantId: string, platform: string, nativeId: string): Promise<string | null>;
  /** The discovered agent that runs as this principal (role ARN without session), or null. */
  findByPrincipal(tenantId: string, principalArn: string): Promise<string | null>;
}

export interface ScanRecord {
  readonly tenant_id: string;
  readonly scan_id: string;
  readonly source_id?: string;
  readonly status: 'queued' | 'running' | 'succeeded' | 'partial' | 'failed';
  readonly found: number;
  readonly new: number;
  readonly changed: number;
  readonly errors: string[];
  readonly requested_at: string;
  readonly requested_by: string;
  readonly started_at?: string;
  readonly finished_at?: string;
}

export interface SourceStatus {
  readonly key: string;
  readonly last_attempt_at?: string;
  readonly last_success_at?: string;
  readonly errors: string[];
  /** CloudTrail: time of the last event and its delivery lag (event time → processed). */
  readonly last_event_at?: string;
  readonly last_event_lag_ms?: number;
  readonly events_total?: number;
}

/** Port: sources, scans and freshness in the control table. */
export interface DiscoveryControl {
  putSource(s: SourceConfig): Promise<void>;
  getSource(tenantId: string, sourceId: string): Promise<SourceConfig | null>;
  listSources(tenantId: string): Promise<SourceConfig[]>;
  /** Every tenant source scanning this AWS account (CloudTrail events name only the account). */
  sourcesForAccount(accountId: string): Promise<SourceConfig[]>;
  /** All aws_account sources of all tenants (the schedule scans them). */
  allScannableSources(): Promise<SourceConfig[]>;
  /**
   * Writes a scan record; with `events`, in one transaction with their outbox items (the queued
   * scan and its `discovery.scan.requested` commit together, so a down bus loses no request).
   */
  putScan(s: ScanRecord, events?: readonly OutboxEntry[]): Promise<void>;
  getScan(tenantId: string, scanId: string): Promise<ScanRecord | null>;
  recordStatus(
    tenantId: string,
    key: string,
    outcome: { at: string; ok: boolean; errors?: string[]; eventLagMs?: number },
  ): Promise<void>;
  listStatus(tenantId: string): Promise<SourceStatus[]>;
}

/** Port: the identity capability's registration (adopt makes an ARX identity). */
export interface IdentityRegistrar {
  register(
    caller: Caller,
    input: {
      platform: string;
      platform_native_id: string;
      name?: string;
      owner: { oidc_sub: string; email?: string; team?: string };
    },
    trace: TraceIds,
  ): Promise<{ agent_id: string; spiffe_id: string; status: string; bootstrap_token: string }>;
}

export interface DiscoveryDeps {
  readonly store: DiscoveryStore;
  readonly control: DiscoveryControl;
  readonly clock: Clock;
  readonly sources?: readonly AgentSource[];
  readonly identity?: IdentityRegistrar;
}

export interface IngestOutcome {
  found: number;
  new: number;
  changed: number;
  ids: string[];
}

/** A fresh trace for work no request started (schedules, CloudTrail events). */
const SYSTEM_TRACE = (): TraceIds => ({ correlationId: newId('cor'), traceId: traceFrom(undefined).traceId });

function changeOf(
  a: DiscoveredAgent,
  kind: DiscoveryChangeKind,
  actor: string,
  at: string,
  trace: TraceIds,
): DiscoveryChange {
  return {
    event_id: newId('evt'),
    tenant_id: a.tenant_id,
    agent_id: a.id,
    change: kind,
    version: a.version,
    status: a.state === 'deleted' ? 'deleted' : a.sanctioned ? 'sanctioned' : 'unsanctioned',
    sanctioned: a.sanctioned,
    platform: a.platform,
    platform_native_id: a.platform_native_id,
    ...(a.arx_agent_id ? { arx_agent_id: a.arx_agent_id } : {}),
    at,
    actor,
    correlation_id: trace.correlationId,
    trace_id: trace.traceId,
  };
}

/**
 * Merges evidence into the inventory: one record per (platform, native id), a new SCD-2 version
 * and an `inventory.change` event only when a material attribute changed. Retries a concurrent
 * change (another scan or event on the same agent) by re-reading and re-merging.
 */
export async function ingestEvidence(
  deps: Pick<DiscoveryDeps, 'store' | 'clock'>,
  tenantId: string,
  evidence: readonly Evidence[],
  actor: string,
  trace: TraceIds = SYSTEM_TRACE(),
): Promise<IngestOutcome> {
  // Agents are independent: merge up to INGEST_CONCURRENCY at once. Evidence for one agent stays
  // in one queue, in order, so a batch never races itself over the same record.
  const byAgent = new Map<string, Evidence[]>();
  for (const ev of evidence) {
    const id = discoveredIdOf(tenantId, ev.platform, ev.platform_native_id);
    byAgent.set(id, [...(byAgent.get(id) ?? []), ev]);
  }
  const queues = [...byAgent.entries()];
  const outcomes: ('new' | 'changed' | 'same')[][] = queues.map(() => []);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < queues.length) {
      const i = next++;
      const [id, items] = queues[i]!;
      try {
        for (const ev of items) outcomes[i]!.push(await mergeOne(deps, tenantId, id, ev, actor, trace));
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(INGEST_CONCURRENCY, queues.length) }, worker));
  const out: IngestOutcome = { found: 0, new: 0, changed: 0, ids: [] };
  queues.forEach(([id], i) => {
    for (const o of outcomes[i]!) {
      out.found++;
      if (o === 'new') out.new++;
      else if (o === 'changed') out.changed++;
      out.ids.push(id);
    }
  });
  return out;
}

/** How many agents one ingest merges at once (each merge is a few reads and one transaction). */
export const INGEST_CONCURRENCY = 8;

async function mergeOne(
  deps: Pick<DiscoveryDeps, 'store' | 'clock'>,
  tenantId: string,
  id: string,
  ev: Evidence,
  actor: string,
  trace: TraceIds,
): Promise<'new' | 'changed' | 'same'> {
  for (let attempt = 0; ; attempt++) {
    const now = deps.clock.now();
    const [current, registered] = await Promise.all([
      deps.store.get(tenantId, id),
      deps.store.registeredAgentId(tenantId, ev.platform, ev.platform_native_id),
    ]);
    const arxAgentId = registered ?? ev.arx_agent_id;
    const { next, material, kind } = mergeEvidence(current, ev, {
      tenantId,
      now,
      actor,
      ...(arxAgentId ? { registeredAgentId: arxAgentId } : {}),
    });
    try {
      await deps.store.save(current, next, material ? changeOf(next, kind, actor, now.toISOString(), trace) : null);
    } catch (e) {
      if (e instanceof ConflictError && attempt < 4) continue;
      throw e;
    }
    return !current ? 'new' : material ? 'changed' : 'same';
  }
}

/**
 * Runs one scan over the given sources (each adapter, each region). An adapter failing is an
 * error of the scan (status `partial`), never an exception: discovery degrades, it does not stop.
 * A complete enumeration that no longer lists an agent it listed before marks it deleted.
 */
export async function runScan(
  deps: DiscoveryDeps,
  scan: ScanRecord,
  sources: readonly SourceConfig[],
): Promise<ScanRecord> {
  const started = deps.clock.now().toISOString();
  await deps.control.putScan({ ...scan, status: 'running', started_at: started });
  const totals = { found: 0, new: 0, changed: 0 };
  const errors: string[] = [];
  let attempted = 0;
  for (const src of sources) {
    if (src.type !== 'aws_account') continue;
    const srcErrors: string[] = [];
    for (const region of src.regions) {
      for (const adapter of deps.sources ?? []) {
        attempted++;
        let found: Awaited<ReturnType<typeof adapter.scan>>;
        try {
          found = await adapter.scan(src, region, deps.clock.now());
        } catch (e) {
          srcErrors.push(`${adapter.name} ${region}: ${(e as Error).message}`.slice(0, 300));
          continue;
        }
        srcErrors.push(...found.errors.map((m) => `${adapter.name} ${region}: ${m}`.slice(0, 300)));
        const r = await ingestEvidence(deps, src.tenant_id, found.evidence, `scan:${scan.scan_id}`);
        totals.found += r.found;
        totals.new += r.new;
        totals.changed += r.changed;
        if (found.complete) {
          const gone = await vanished(
            deps,
            src,
            region,
            adapter,
            new Set(found.evidence.map((e) => `${e.platform}\n${e.platform_native_id}`)),
          );
          if (gone.length)
            totals.changed += (await ingestEvidence(deps, src.tenant_id, gone, `scan:${scan.scan_id}`)).changed;
        }
      }
    }
    await deps.control.recordStatus(src.tenant_id, src.source_id, {
      at: deps.clock.now().toISOString(),
      ok: srcErrors.length === 0,
      errors: srcErrors,
    });
    errors.push(...srcErrors.map((m) => `${src.source_id}: ${m}`));
  }
  const status: ScanRecord['status'] =
    errors.length === 0 ? 'succeeded' : totals.found > 0 || errors.length < attempted ? 'partial' : 'failed';
  const done: ScanRecord = {
    ...scan,
    ...totals,
    status,
    errors: errors.slice(0, 50),
    started_at: started,
    finished_at: deps.clock.now().toISOString(),
  };
  await deps.control.putScan(done);
  return done;
}

/** Records this adapter listed before from this account/region that the complete listing lacks. */
async function vanished(
  deps: DiscoveryDeps,
  src: SourceConfig,
  region: string,
  adapter: AgentSource,
  seen: Set<string>,
): Promise<Evidence[]> {
  const platforms = adapter.platforms;
  const origin = `aws:${src.account_id}:${region}`;
  const out: Evidence[] = [];
  for (const platform of platforms) {
    let token: string | undefined;
    do {
      const page = await deps.store.list(src.tenant_id, { platform, source: 'list_api' }, 100, token);
      for (const a of page.items) {
        if (a.state === 'deleted' || seen.has(`${a.platform}\n${a.platform_native_id}`)) continue;
        const s = a.sources.find((x) => x.source === 'list_api' && x.origin === origin);
        if (!s) continue;
        out.push({
          platform: a.platform,
          platform_native_id: a.platform_native_id,
          source: 'list_api',
          origin,
          confidence: s.confidence,
          observed_at: deps.clock.now().toISOString(),
          deleted: true,
          signals: ['absent-from-listing'],
        });
      }
      token = page.next_token;
    } while (token);
  }
  return out;
}

/**
 * Consumes one CloudTrail event from the default bus for every tenant scanning that account:
 * lifecycle events refresh the platform record; a model call by a principal that maps to no known
 * agent creates (or feeds) a shadow agent keyed by the role ARN without session.
 */
export async function handleCloudTrail(deps: DiscoveryDeps, event: unknown): Promise<{ kind: string; ids: string[] }> {
  const f = interpretCloudTrail(event);
  if (f.kind === 'ignored') return { kind: 'ignored', ids: [] };
  const sources = (await deps.control.sourcesForAccount(f.account)).filter((s) => s.type === 'aws_account');
  const tenants = [...new Set(sources.map((s) => s.tenant_id))];
  const ids: string[] = [];
  const now = deps.clock.now();
  for (const tenantId of tenants) {
    let evidence: Evidence;
    if (f.kind === 'lifecycle') {
      evidence = f.evidence;
    } else {
      const knownId = await deps.store.findByPrincipal(tenantId, f.principalArn);
      const known = knownId ? await deps.store.get(tenantId, knownId) : null;
      const target = known ?? (await deps.store.get(tenantId, discoveredIdOf(tenantId, 'aws-iam', f.principalArn)));
      const count = (target?.observed_actions_30d ?? 0) + 1;
      evidence = {
        platform: known?.platform ?? 'aws-iam',
        platform_native_id: known?.platform_native_id ?? f.principalArn,
        source: 'audit_inference',
        origin: `aws:${f.account}:${f.region}`,
        confidence: auditInferenceConfidence(count),
        observed_at: f.at,
        observed_actions: 1,
        declared_capabilities: ['invoke_model'],
        principal_arns: [f.principalArn],
        signals: [`cloudtrail:${f.eventName}`],
      };
    }
    const r = await ingestEvidence(deps, tenantId, [evidence], 'cloudtrail');
    ids.push(...r.ids);
    await deps.control.recordStatus(tenantId, 'cloudtrail', {
      at: now.toISOString(),
      ok: true,
      eventLagMs: Math.max(0, now.getTime() - Date.parse(f.kind === 'lifecycle' ? f.evidence.observed_at : f.at)),
    });
  }
  return { kind: f.kind, ids };
}

/**
 * Adopts a discovered agent: registers it as an ARX identity through the identity capability
 * (same answer as registration, with its one-time bootstrap token) and writes a sanctioned version.
 */
export async function adoptAgent(
  deps: DiscoveryDeps,
  caller: Caller,
  id: string,
  owner: DiscoveredOwner & { oidc_sub: string },
  trace: TraceIds,
) {
  if (!deps.identity) throw new Error('adopt needs the identity registrar');
  const current = await deps.store.get(caller.tenantId, id);
  if (!current) throw new NotFoundError(`no discovered agent ${id}`);
  if (current.sanctioned)
    throw new ConflictError(`discovered agent ${id} is already an ARX identity (${current.arx_agent_id})`);
  if (current.state === 'deleted') throw new ConflictError(`discovered agent ${id} was deleted on its platform`);
  const reg = await deps.identity.register(
    caller,
    {
      platform: current.platform,
      platform_native_id: current.platform_native_id,
      ...(current.name ? { name: current.name.slice(0, 128) } : {}),
      owner,
    },
    trace,
  );
  const now = deps.clock.now();
  const next = adoptRecord(current, reg.agent_id, owner, { now, actor: caller.subject });
  for (let attempt = 0; ; attempt++) {
    const cur = attempt === 0 ? current : (await deps.store.get(caller.tenantId, id))!;
    const n =
      attempt === 0 ? next : adoptRecord(cur, reg.agent_id, owner, { now: deps.clock.now(), actor: caller.subject });
    try {
      await deps.store.save(cur, n, changeOf(n, 'adopted', caller.subject, now.toISOString(), trace));
      break;
    } catch (e) {
      // The registration stands; a later merge links the record through (platform, native id) anyway.
      if (e instanceof ConflictError && attempt < 4) continue;
      throw e;
    }
  }
  return { ...reg, discovered_id: id };
}

/** GET /v1/discovery/status: per source last success, lag and errors; the CloudTrail feed's lag. */
export async function discoveryStatus(deps: Pick<DiscoveryDeps, 'control' | 'clock'>, tenantId: string) {
  const now = deps.clock.now().getTime();
  const [sources, status] = await Promise.all([deps.control.listSources(tenantId), deps.control.listStatus(tenantId)]);
  const byKey = new Map(status.map((s) => [s.key, s]));
  const lagS = (iso?: string) => (iso ? Math.max(0, Math.round((now - Date.parse(iso)) / 1000)) : null);
  const ct = byKey.get('cloudtrail');
  return {
    sources: sources.map((s) => {
      const st = byKey.get(s.source_id);
      return {
        source_id: s.source_id,
        type: s.type,
        ...(s.account_id ? { account_id: s.account_id } : {}),
        last_attempt_at: st?.last_attempt_at ?? null,
        last_success_at: st?.last_success_at ?? null,
        lag_seconds: lagS(st?.last_success_at ?? s.created_at),
        errors: st?.errors ?? [],
      };
    }),
    cloudtrail: {
      last_event_at: ct?.last_event_at ?? null,
      last_event_lag_ms: ct?.last_event_lag_ms ?? null,
      events_total: ct?.events_total ?? 0,
      seconds_since_last_event: lagS(ct?.last_event_at),
    },
  };
}
