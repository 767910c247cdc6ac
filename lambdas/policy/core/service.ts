/**
 * Policy authoring and enforcement logging: push (validate → compile → sign → store), promote
 * (move the live pointer), diff, and EnforcementEvents. Pure orchestration over ports.
 */
import type { Clock } from '../../shared/clock.js';
import type { ArxEventDetail, EventPublisher, OutboxEntry, StagedEventSink } from '../../shared/events.js';
import type { Decision, DecisionRequest } from '../../shared/ports.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { canonicalJson, newId, sha256Hex } from '../../shared/ids.js';
import {
  compileBundle,
  contentOf,
  diffBundles,
  digestOf,
  type BundleDiff,
  type BundleInput,
  type LiveManifest,
  type SignedBundle,
} from './bundle.js';
import { verifyBundle, type BundleSigner } from './signing.js';
import type { DecisionRecorder } from './decision-point.js';
import { approvalWarnings } from './decide.js';

export interface BundleRepository {
  /** Stores a new bundle; refuses to overwrite an existing one. Returns the object key. */
  put(bundle: SignedBundle): Promise<string>;
  get(tenantId: string, bundleId: string): Promise<SignedBundle | null>;
  getLive(tenantId: string): Promise<LiveManifest | null>;
  putLive(manifest: LiveManifest): Promise<void>;
  keyOf(tenantId: string, bundleId: string): string;
}

/** What a bundle listing shows of one stored bundle (the bundle itself stays in the repository). */
export interface BundleCatalogEntry {
  readonly bundle_id: string;
  readonly version: number;
  readonly digest: string;
  readonly source_format: 'cedar' | 'yaml';
  readonly policy_count: number;
  readonly created_at: string;
  readonly created_by: string;
  /** Set when the bundle was made live (the latest promotion). */
  readonly last_promoted_at?: string;
  readonly last_promoted_by?: string;
}

/** The tenant's bundles, newest version first, paged with tenant-bound tokens. */
export interface BundleCatalog {
  record(tenantId: string, entry: BundleCatalogEntry): Promise<void>;
  markPromoted(tenantId: string, version: number, at: string, by: string): Promise<boolean>;
  list(
    tenantId: string,
    o: { limit: number; next_token?: string | undefined },
  ): Promise<{ items: BundleCatalogEntry[]; next_token?: string }>;
}

/** `draft`: never live; `live`: the tenant's live pointer names it; `previous`: was live before. */
export type BundleStatus = 'draft' | 'live' | 'previous';

export interface VersionCounter {
  next(tenantId: string): Promise<number>;
}

export interface RevokedIds {
  /** Agent ids currently on the tenant's revocation list. */
  list(tenantId: string): Promise<string[]>;
}

/** Seed C3.2 EnforcementEvent, plus the tenant and decision details ARX keeps. */
export interface EnforcementEvent {
  readonly event_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly action_id?: string;
  readonly principal_spiffe_id?: string;
  readonly action_name: string;
  readonly target?: string;
  readonly context_hash: string;
  readonly decision: 'permit' | 'forbid';
  readonly decision_ms: number;
  readonly pep_topology: string;
  readonly pep_version: string;
  readonly occurred_at: string;
  readonly bundle_version?: string | null;
  readonly determining_policies?: readonly string[];
  readonly risk?: string;
  readonly approval?: string;
  readonly correlation_id?: string;
  readonly trace_id?: string;
}

export interface EnforcementLog {
  put(events: readonly EnforcementEvent[]): Promise<void>;
  /** Writes one record and commits its event's outbox entry with it, in one transaction. */
  putWithEvent?(event: EnforcementEvent, entry: OutboxEntry): Promise<void>;
}

export const PEP_VERSION = 'arx-pdp/1';

export class PolicyService {
  constructor(
    private readonly d: {
      repo: BundleRepository;
      versions: VersionCounter;
      signer: BundleSigner;
      revoked: RevokedIds;
      /** `bundle.promoted` goes through the outbox (at least once; the audit chain records promotions from it). */
      events: StagedEventSink;
      clock: Clock;
      /** Lists the bundles (`GET /v1/policies/bundles`); without one, nothing is listed. */
      catalog?: BundleCatalog;
    },
  ) {}

  /** Validates strictly and stores a signed, immutable bundle. Invalid → ValidationError, nothing stored. */
  async push(
    tenantId: string,
    input: BundleInput,
    actor = 'unknown',
  ): Promise<{ bundle_id: string; version: number; digest: string; warnings?: string[] }> {
    const now = this.d.clock.now();
    // validate before taking a version so a rejected upload leaves no trace
    const dry = compileBundle(input, {
      tenantId,
      bundleId: 'dry-run',
      version: 0,
      createdAt: now.toISOString(),
      revokedAgentIds: [],
    });
    if (!dry.ok) throw new ValidationError('the bundle is invalid', dry.errors);
    const [version, revoked] = await Promise.all([this.d.versions.next(tenantId), this.d.revoked.list(tenantId)]);
    const bundleId = newId('pb', now);
    const r = compileBundle(input, {
      tenantId,
      bundleId,
      version,
      createdAt: now.toISOString(),
      revokedAgentIds: revoked,
    });
    if (!r.ok) throw new ValidationError('the bundle is invalid', r.errors);
    const digest = digestOf(r.content);
    const signature = await this.d.signer.sign(tenantId, digest);
    await this.d.repo.put({ ...r.content, digest, signature });
    // after the object: a catalog write that fails leaves an unlisted object, never a listed bundle that is not stored
    await this.d.catalog?.record(tenantId, {
      bundle_id: bundleId,
      version,
      digest,
      source_format: r.content.source_format,
      policy_count: r.content.policies.length,
      created_at: r.content.created_at,
      created_by: actor,
    });
    const warnings = approvalWarnings(r.content);
    return { bundle_id: bundleId, version, digest, ...(warnings.length ? { warnings } : {}) };
  }

  /** Moves the tenant's live pointer to a stored bundle (after re-verifying it) and announces it. */
  async promote(
    tenantId: string,
    bundleId: string,
    actor: string,
    trace: { correlation_id: string; trace_id: string },
  ): Promise<{ live_bundle_id: string; version: number }> {
    const b = await this.d.repo.get(tenantId, bundleId);
    if (!b) throw new NotFoundError(`bundle ${bundleId} not found`);
    const v = await verifyBundle(b, tenantId, this.d.signer);
    if (!v.ok) throw new ValidationError(`bundle ${bundleId} cannot be promoted: ${v.reason}`);
    const digest = v.bundle.digest;
    const manifest: LiveManifest = {
      tenant_id: tenantId,
      bundle_id: bundleId,
      version: b.version,
      digest,
      key: this.d.repo.keyOf(tenantId, bundleId),
      promoted_at: this.d.clock.now().toISOString(),
      promoted_by: actor,
    };
    const event: OutboxEntry = {
      detailType: 'bundle.promoted',
      detail: {
        tenant_id: tenantId,
        correlation_id: trace.correlation_id,
        trace_id: trace.trace_id,
        event_id: `bundle.promoted:${tenantId}:${bundleId}:${manifest.promoted_at}`,
        bundle_id: bundleId,
        version: b.version,
        digest,
        promoted_by: actor,
      },
    };
    // The live pointer is an S3 object, which cannot join a DynamoDB transaction: the event is
    // committed first, so a pointer that moved is announced (by the relay if the bus is down) and a
    // pointer write that failed withdraws it. Left open: a crash between the two announces a
    // promotion that did not land; a write that landed but answered an error is not announced
    // (the caller got a 5xx, and promoting again announces it).
    await this.d.events.stage([event], manifest.promoted_at);
    try {
      await this.d.repo.putLive(manifest);
    } catch (e) {
      await this.d.events.discard([event]).catch(() => undefined);
      throw e;
    }
    // The live status a listing shows comes from the pointer; this only remembers that the bundle
    // was live, for `previous` once another is promoted. The promotion has landed: a failure here
    // must not answer it with an error (that bundle would later list as `draft`).
    await this.d.catalog?.markPromoted(tenantId, b.version, manifest.promoted_at, actor).catch(() => false);
    await this.d.events.flush([event]);
    return { live_bundle_id: bundleId, version: b.version };
  }

  /** The tenant's bundles, newest first, each with its status against the live pointer. */
  async listBundles(
    tenantId: string,
    o: { limit: number; next_token?: string | undefined },
  ): Promise<{
    items: (BundleCatalogEntry & { status: BundleStatus })[];
    live: { bundle_id: string; version: number; promoted_at: string; promoted_by: string } | null;
    next_token?: string;
  }> {
    if (!this.d.catalog) throw new Error('this policy service has no bundle catalog');
    const [page, manifest] = await Promise.all([this.d.catalog.list(tenantId, o), this.d.repo.getLive(tenantId)]);
    const items = page.items.map((e) => ({
      ...e,
      status: (e.bundle_id === manifest?.bundle_id
        ? 'live'
        : e.last_promoted_at
          ? 'previous'
          : 'draft') as BundleStatus,
    }));
    const live = manifest
      ? {
          bundle_id: manifest.bundle_id,
          version: manifest.version,
          promoted_at: manifest.promoted_at,
          promoted_by: manifest.promoted_by,
        }
      : null;
    return { items, live, ...(page.next_token ? { next_token: page.next_token } : {}) };
  }

  async diff(tenantId: string, bundleId: string, prevId: string): Promise<BundleDiff> {
    const [to, from] = await Promise.all([this.d.repo.get(tenantId, bundleId), this.d.repo.get(tenantId, prevId)]);
    if (!to) throw new NotFoundError(`bundle ${bundleId} not found`);
    if (!from) throw new NotFoundError(`bundle ${prevId} not found`);
    return diffBundles(contentOf(from), contentOf(to));
  }
}

/**
 * Records every decision as an EnforcementEvent and emits `policy.decision`. With an outbox (and a
 * log that can write both at once) the event commits with its record and is published after, so
 * delivery is at least once; without one it is published directly.
 */
export class EnforcementRecorder implements DecisionRecorder {
  constructor(
    private readonly log: EnforcementLog,
    private readonly events: EventPublisher,
    private readonly clock: Clock,
    private readonly outbox?: { flush(entries: readonly OutboxEntry[]): Promise<number> },
  ) {}

  async record(
    req: DecisionRequest,
    decision: Decision,
    meta: { pep_topology: string; correlation_id?: string; trace_id?: string; spiffe_id?: string },
  ): Promise<void> {
    const now = this.clock.now();
    const ev: EnforcementEvent = {
      event_id: newId('enf', now),
      tenant_id: req.tenantId,
      agent_id: req.principal.id,
      ...(meta.spiffe_id ? { principal_spiffe_id: meta.spiffe_id } : {}),
      action_name: req.action,
      ...(req.resource ? { target: `${req.resource.type}::${req.resource.id}` } : {}),
      context_hash: `sha256:${sha256Hex(canonicalJson(req.context ?? {}))}`,
      decision: decision.effect,
      decision_ms: decision.evaluation_ms,
      pep_topology: meta.pep_topology,
      pep_version: PEP_VERSION,
      occurred_at: now.toISOString(),
      bundle_version: decision.bundle_version,
      determining_policies: decision.determining_policies,
      risk: decision.risk,
      approval: decision.approval,
      ...(meta.correlation_id ? { correlation_id: meta.correlation_id } : {}),
      ...(meta.trace_id ? { trace_id: meta.trace_id } : {}),
    };
    const detail: ArxEventDetail = {
      tenant_id: req.tenantId,
      correlation_id: meta.correlation_id ?? ev.event_id,
      trace_id: meta.trace_id ?? '',
      event_id: ev.event_id,
      agent_id: ev.agent_id,
      action: ev.action_name,
      effect: decision.effect,
      approval: decision.approval,
      risk: decision.risk,
      determining_policies: decision.determining_policies,
      errors: decision.errors,
      bundle_version: decision.bundle_version,
      pep_topology: ev.pep_topology,
      ...(decision.policy ? { policy: decision.policy } : {}),
    };
    if (this.outbox && this.log.putWithEvent) {
      const entry: OutboxEntry = { detailType: 'policy.decision', detail };
      await this.log.putWithEvent(ev, entry);
      await this.outbox.flush([entry]);
      return;
    }
    await this.log.put([ev]);
    await this.events.publish('policy.decision', detail);
  }
}
