/**
 * Graduated autonomy: from the tenant's decided approvals, proposals to lower an operation's gate
 * (hitl → auto) where humans keep approving it, and to raise it again (→ hitl) where a lowered gate
 * meets denials or drifting agents; applying one writes the change into a new bundle version
 * (a YAML `gates` entry), which is not live until promoted. Pure: ports in, injected clock.
 */
import { parseDocument, isMap, isSeq, type Document } from 'yaml';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { sha256Hex } from '../../shared/ids.js';
import type { ApprovalHistory, ApprovalMode, DecidedApproval, DriftReader } from '../../shared/ports.js';
import type { Clock } from '../../shared/clock.js';
import type { BundleInput, SignedBundle } from './bundle.js';
import { classify, type RiskPolicy } from './yaml-policy.js';

export interface Recommendation {
  readonly recommendation_id: string;
  readonly kind: 'lower' | 'raise';
  readonly policy: string;
  /** The operation pattern of the policy the gate is set on (e.g. `users:suspend`). */
  readonly operation: string;
  readonly actions: readonly string[];
  readonly from: ApprovalMode;
  readonly to: ApprovalMode;
  /** The live bundle the proposal is against; applying it after another promotion is refused. */
  readonly bundle_id: string;
  readonly bundle_version: number;
  readonly evidence: {
    readonly window: string;
    readonly since: string;
    readonly approvals: number;
    readonly denials: number;
    readonly expired: number;
    /** Approvals with edits: always 0 (an approver cannot edit a request; its parameters are bound). */
    readonly edited: number;
    readonly approvers: readonly string[];
    readonly agents: number;
    readonly drifting_agents: readonly string[];
    readonly time_to_decision_s: { readonly median: number | null; readonly max: number | null };
    readonly first_at: string | null;
    readonly last_at: string | null;
  };
  readonly reason: string;
  readonly created_at: string;
}

/** Port: recommendations listed, kept so `apply` applies exactly what was shown. */
export interface RecommendationStore {
  put(tenantId: string, recs: readonly Recommendation[], ttlSeconds: number): Promise<void>;
  get(tenantId: string, id: string): Promise<Recommendation | null>;
}

export interface LiveBundleReader {
  /** The tenant's live bundle, verified; null when none is live. */
  live(tenantId: string): Promise<SignedBundle | null>;
}

export interface RecommendationDeps {
  readonly approvals: ApprovalHistory;
  readonly bundles: LiveBundleReader;
  readonly store: RecommendationStore;
  readonly push: (
    tenantId: string,
    input: BundleInput,
  ) => Promise<{ bundle_id: string; version: number; digest: string }>;
  readonly drift?: DriftReader;
  readonly clock: Clock;
}

/** How long a listed recommendation can be applied. */
export const RECOMMENDATION_TTL_S = 7 * 86400;
const RANK: Readonly<Record<ApprovalMode, number>> = { none: 0, auto: 1, hitl: 2 };

/** `30d` → seconds (1 to 365 days, or 1 to 8760 hours). ValidationError otherwise. */
export function windowSeconds(w: string): number {
  const m = /^(\d{1,4})([dh])$/.exec(w);
  const n = m ? Number(m[1]) : 0;
  const s = m ? n * (m[2] === 'd' ? 86400 : 3600) : 0;
  if (!m || n < 1 || s > 365 * 86400)
    throw new ValidationError('window must be a duration such as 30d or 12h (at most 365d)', [
      { path: 'window', message: 'N days (d) or hours (h), 1h to 365d' },
    ]);
  return s;
}

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The gate an operation pattern of a policy has now: its own `gates` entry, else its risk's approval. */
function gateOf(p: RiskPolicy, pattern: string): ApprovalMode {
  const op = p.operations.find((o) => o.pattern === pattern);
  return p.gates?.[pattern] ?? p.approval[op?.risk ?? 'high'];
}

export class Recommendations {
  constructor(private readonly d: RecommendationDeps) {}

  /**
   * For each (policy, operation) of the live YAML bundle with at least `minApprovals` approvals,
   * no denials and none expired in the window, and a hitl gate: a proposal to lower it to auto.
   * For each gate lowered below its risk's approval that now meets a denial or a drifting agent:
   * a proposal to raise it back to hitl.
   */
  async list(tenantId: string, minApprovals: number, window: string): Promise<Recommendation[]> {
    const now = this.d.clock.now();
    const since = new Date(now.getTime() - windowSeconds(window) * 1000).toISOString();
    const bundle = await this.d.bundles.live(tenantId);
    if (bundle?.source_format !== 'yaml') return [];
    const decided = await this.d.approvals.decided(tenantId, since);
    const groups = new Map<string, { policy: RiskPolicy; pattern: string; items: DecidedApproval[] }>();
    for (const a of decided) {
      const cls = classify(bundle.risk, a.action);
      if (!cls) continue;
      const key = `${cls.policy.name}\u0000${cls.pattern}`;
      const g = groups.get(key) ?? { policy: cls.policy, pattern: cls.pattern, items: [] };
      g.items.push(a);
      groups.set(key, g);
    }
    const out: Recommendation[] = [];
    for (const { policy, pattern, items } of groups.values()) {
      const approved = items.filter((a) => a.status === 'approved');
      const denied = items.filter((a) => a.status === 'denied');
      const expired = items.filter((a) => a.status === 'expired');
      const gate = gateOf(policy, pattern);
      const agents = [...new Set(items.map((a) => a.agent_id))];
      const drifting = this.d.drift
        ? (
            await Promise.all(
              agents.map(async (id) => ((await this.d.drift!.context(tenantId, id)).drift.alert ? id : null)),
            )
          ).filter((x): x is string => x !== null)
        : [];
      const risky = RANK[gate] < RANK[policy.approval[policy.operations.find((o) => o.pattern === pattern)!.risk]];
      let kind: Recommendation['kind'] | null = null;
      let reason = '';
      if (gate === 'hitl' && approved.length >= minApprovals && !denied.length && !expired.length && !drifting.length) {
        kind = 'lower';
        reason = `${approved.length} approvals, no denials, none expired and no drifting agent in ${window}`;
      } else if (risky && (denied.length || drifting.length)) {
        kind = 'raise';
        reason = denied.length
          ? `${denied.length} denial(s) in ${window} on a gate lowered below its risk's approval`
          : `${drifting.length} drifting agent(s) on a gate lowered below its risk's approval`;
      }
      if (!kind) continue;
      const to: ApprovalMode = kind === 'lower' ? 'auto' : 'hitl';
      const ttd = items
        .filter((a) => a.decided_at && a.status !== 'expired')
        .map((a) => (Date.parse(a.decided_at!) - Date.parse(a.created_at)) / 1000);
      const times = items.map((a) => a.created_at).sort();
      out.push({
        recommendation_id: `rec_${sha256Hex(`${tenantId}|${bundle.bundle_id}|${policy.name}|${pattern}|${to}|${minApprovals}|${window}`).slice(0, 20)}`,
        kind,
        policy: policy.name,
        operation: pattern,
        actions: [...new Set(items.map((a) => a.action))].sort(),
        from: gate,
        to,
        bundle_id: bundle.bundle_id,
        bundle_version: bundle.version,
        evidence: {
          window,
          since,
          approvals: approved.length,
          denials: denied.length,
          expired: expired.length,
          edited: 0,
          approvers: [...new Set(approved.concat(denied).flatMap((a) => (a.decided_by ? [a.decided_by] : [])))].sort(),
          agents: agents.length,
          drifting_agents: drifting,
          time_to_decision_s: { median: median(ttd), max: ttd.length ? Math.max(...ttd) : null },
          first_at: times[0] ?? null,
          last_at: times[times.length - 1] ?? null,
        },
        reason,
        created_at: now.toISOString(),
      });
    }
    out.sort((a, b) => a.policy.localeCompare(b.policy) || a.operation.localeCompare(b.operation));
    if (out.length) await this.d.store.put(tenantId, out, RECOMMENDATION_TTL_S);
    return out;
  }

  /**
   * Writes the recommendation's gate into a copy of the live bundle's YAML and pushes it as a new
   * bundle version (not promoted). 404 for an unknown (or expired) recommendation; 409 when the
   * live bundle is no longer the one it was made against.
   */
  async apply(
    tenantId: string,
    id: string,
  ): Promise<{ bundle_id: string; version: number; digest: string; recommendation: Recommendation; promoted: false }> {
    const rec = await this.d.store.get(tenantId, id);
    if (!rec) throw new NotFoundError(`recommendation ${id} not found`);
    const live = await this.d.bundles.live(tenantId);
    if (!live || live.bundle_id !== rec.bundle_id || !live.source)
      throw new ConflictError(
        `recommendation ${id} was made against bundle ${rec.bundle_id}, which is no longer live; list recommendations again`,
      );
    const document = withGate(live.source, rec.policy, rec.operation, rec.to);
    const pushed = await this.d.push(tenantId, { format: 'yaml', document });
    return { ...pushed, recommendation: rec, promoted: false };
  }
}

/** The YAML document with `gates[operation] = mode` set on the named policy (comments and layout kept). */
export function withGate(source: string, policy: string, operation: string, mode: ApprovalMode): string {
  const doc: Document = parseDocument(source);
  const list = isSeq(doc.contents) ? doc.contents : isMap(doc.contents) ? doc.get('policies') : null;
  if (!isSeq(list)) throw new ConflictError('the live bundle source has no policy list');
  const i = list.items.findIndex((it) => isMap(it) && it.get('name') === policy);
  if (i < 0) throw new ConflictError(`policy ${policy} is not in the live bundle`);
  const path = isSeq(doc.contents) ? [i] : ['policies', i];
  doc.setIn([...path, 'gates', operation], mode);
  return doc.toString();
}
