/**
 * The in-process DecisionPoint: per-tenant live bundles pulled through a conditional-GET source,
 * re-checked every `pollMs` (30 s), verified before they go live, last-known-good kept on any
 * failure, revocation consulted on every decision. Never-loaded → forbid.
 */
import type { Clock } from '../../shared/clock.js';
import type {
  Decision,
  DecisionPoint,
  DecisionRequest,
  RevocationState,
  RevocationStatus,
} from '../../shared/ports.js';
import { decideWith, loadBundle, type LoadedBundle, type OfflineRevocationMode } from './decide.js';
import { verifyBundle, type BundleSigner } from './signing.js';
import { contentOf } from './bundle.js';
import type { PrincipalState, PrincipalStatusPort } from './principal-status.js';

export type { PrincipalStatusPort } from './principal-status.js';

/** Port: where live bundles come from (S3 manifest + bundle object text, conditional on the manifest ETag). */
export interface BundleSource {
  fetchLive(
    tenantId: string,
    etag: string | null,
  ): Promise<{ status: 'not-modified' } | { status: 'none' } | { status: 'ok'; etag: string; bundle: string }>;
}

/** Port: record and publish each decision (EnforcementEvent + `policy.decision`). */
export interface DecisionRecorder {
  /** `token`: the caller's own credential, for recorders that post through the API (the extension's). */
  record(
    req: DecisionRequest,
    decision: Decision,
    meta: { pep_topology: string; correlation_id?: string; trace_id?: string; token?: string },
  ): Promise<void>;
}

export interface DecisionPointOptions {
  readonly source: BundleSource;
  readonly signer: Pick<BundleSigner, 'verify'>;
  readonly revocation: RevocationStatus;
  /** Inventory status of the principal (CachedPrincipalStatus): unknown, suspended, revoked, terminated, orphaned principals are forbidden. */
  readonly principals: PrincipalStatusPort;
  readonly clock: Clock;
  /** Offline `bloom` mode fails closed once the live bundle is older than this. @default DEFAULT_BLOOM_MAX_AGE_MS (1 h) */
  readonly bloomMaxAgeMs?: number;
  /** Where internal failures are logged (their text never goes into a decision). */
  readonly onError?: (e: { tenantId: string; error: unknown }) => void;
  /** @default 30000 */
  readonly pollMs?: number;
  /** @default 'forbid' */
  readonly offlineRevocation?: OfflineRevocationMode;
  readonly recorder?: DecisionRecorder;
  /** @default 'in-process' */
  readonly pepTopology?: string;
  /** Preparsed per-request policy sets kept per tenant (LRU); bounds wasm memory. @default 1024 */
  readonly setCacheSize?: number;
  readonly onEvent?: (e: {
    type: 'swapped' | 'rejected' | 'fetch-failed';
    tenantId: string;
    detail: string;
    ms?: number;
  }) => void;
}

interface TenantState {
  live: LoadedBundle | null;
  etag: string | null;
  checkedAt: number;
  inflight: Promise<void> | null;
  lastError: string | null;
}

export class TenantBundlePdp implements DecisionPoint {
  private readonly tenants = new Map<string, TenantState>();
  private readonly pollMs: number;
  constructor(private readonly o: DecisionPointOptions) {
    this.pollMs = o.pollMs ?? 30_000;
  }

  async decide(
    req: DecisionRequest,
    meta: { correlation_id?: string; trace_id?: string; token?: string } = {},
  ): Promise<Decision> {
    const start = performance.now();
    let decision: Decision;
    try {
      const [st, rev, principal] = await Promise.all([
        this.state(req.tenantId),
        this.o.revocation.status(req.tenantId, req.principal.id).catch((): RevocationState => 'unknown'),
        this.o.principals.status(req.tenantId, req.principal.id).catch(
          (): PrincipalState => ({
            ok: false,
            reason: 'principal_status_unavailable',
            detail: 'principal status unavailable',
          }),
        ),
      ]);
      decision = decideWith(st.live, req, rev, {
        offline: this.o.offlineRevocation ?? 'forbid',
        start,
        principal,
        now: this.o.clock.now().getTime(),
        ...(this.o.bloomMaxAgeMs !== undefined ? { bloomMaxAgeMs: this.o.bloomMaxAgeMs } : {}),
      });
    } catch (e) {
      // F31: the exception is logged, the agent gets a generic code
      this.o.onError?.({ tenantId: req.tenantId, error: e });
      decision = {
        ...decideWith(null, req, 'unknown', { start }),
        errors: ['decision_point_failure'],
        reason: 'decision_point_failure',
      };
    }
    if (this.o.recorder) {
      await this.o.recorder
        .record(req, decision, { pep_topology: this.o.pepTopology ?? 'in-process', ...meta })
        .catch(() => undefined);
    }
    return decision;
  }

  /** The live bundle of a tenant (loads it when never loaded). */
  async live(tenantId: string): Promise<LoadedBundle | null> {
    return (await this.state(tenantId)).live;
  }

  /** Forces a manifest check now (the poll does this every `pollMs`). */
  async refresh(tenantId: string): Promise<void> {
    const st = this.tenants.get(tenantId) ?? this.init(tenantId);
    st.inflight ??= this.load(tenantId, st).finally(() => {
      st.inflight = null;
    });
    await st.inflight;
  }

  lastError(tenantId: string): string | null {
    return this.tenants.get(tenantId)?.lastError ?? null;
  }

  private init(tenantId: string): TenantState {
    const st: TenantState = { live: null, etag: null, checkedAt: 0, inflight: null, lastError: null };
    this.tenants.set(tenantId, st);
    return st;
  }

  private async state(tenantId: string): Promise<TenantState> {
    const st = this.tenants.get(tenantId) ?? this.init(tenantId);
    const now = this.o.clock.now().getTime();
    if (!st.live) {
      // never bootstrapped: wait for the fetch (and retry on the next decision when it fails)
      if (st.inflight || now - st.checkedAt >= Math.min(this.pollMs, 1000)) await this.refresh(tenantId);
    } else if (now - st.checkedAt >= this.pollMs) {
      void this.refresh(tenantId); // background: keep deciding with the current bundle
    }
    return st;
  }

  private async load(tenantId: string, st: TenantState): Promise<void> {
    const t0 = performance.now();
    let r: Awaited<ReturnType<BundleSource['fetchLive']>>;
    try {
      r = await this.o.source.fetchLive(tenantId, st.etag);
    } catch (e) {
      st.lastError = `bundle fetch failed: ${(e as Error).message}`;
      st.checkedAt = this.o.clock.now().getTime();
      this.o.onEvent?.({ type: 'fetch-failed', tenantId, detail: st.lastError });
      return;
    }
    st.checkedAt = this.o.clock.now().getTime();
    if (r.status !== 'ok') return;
    const v = await verifyBundle(r.bundle, tenantId, this.o.signer);
    if (!v.ok) {
      st.lastError = v.reason;
      // keep the etag so the same rejected bundle is not re-downloaded every poll
      st.etag = r.etag;
      this.o.onEvent?.({ type: 'rejected', tenantId, detail: v.reason });
      return;
    }
    if (st.live && st.live.digest === v.bundle.digest) {
      st.etag = r.etag;
      return;
    }
    let next: LoadedBundle;
    try {
      next = loadBundle(
        contentOf(v.bundle),
        v.bundle.digest,
        this.o.setCacheSize ? { dynamicCacheSize: this.o.setCacheSize } : {},
      );
    } catch (e) {
      st.lastError = `bundle failed to load: ${(e as Error).message}`;
      st.etag = r.etag;
      this.o.onEvent?.({ type: 'rejected', tenantId, detail: st.lastError });
      return;
    }
    const old = st.live;
    st.live = next;
    st.etag = r.etag;
    st.lastError = null;
    this.o.onEvent?.({
      type: 'swapped',
      tenantId,
      detail: `${v.bundle.bundle_id} v${v.bundle.version}`,
      ms: performance.now() - t0,
    });
    if (old) {
      // after the flip, off the swap: pre-build the new engine's parts for the shapes traffic used, free the old
      setImmediate(() => {
        next.engine.warm(old.engine.staticKeys());
        old.engine.dispose();
      });
    }
  }
}
