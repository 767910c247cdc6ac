/**
 * ARX decisions on top of the Cedar engine: fail closed on every error, refuse revoked
 * principals, classify risk and approval from the bundle's risk table.
 */
import type { ApprovalMode, Decision, DecisionRequest, RevocationState, Risk } from '../../shared/ports.js';
import { PolicyEngine, type AuthorizeResult } from './engine.js';
import type { CedarValue } from './cedar.js';
import type { BundleContent } from './bundle.js';
import { BloomFilter, bloomItem } from './bloom.js';
import { budgetsFor, classify, DEFAULT_APPROVAL, DEFAULT_HITL_TIMEOUT_S, riskRank, RISKS } from './yaml-policy.js';
import type { PrincipalState } from './principal-status.js';

/** A verified bundle made ready for evaluation. */
export interface LoadedBundle {
  readonly content: BundleContent;
  readonly engine: PolicyEngine;
  readonly bloom: BloomFilter;
  readonly digest: string;
}

export function loadBundle(
  content: BundleContent,
  digest: string,
  opts: { dynamicCacheSize?: number } = {},
): LoadedBundle {
  return {
    content,
    digest,
    engine: new PolicyEngine({
      policies: content.policies,
      entities: content.entities,
      schema: content.schema,
      actionPatterns: content.action_patterns,
      ...(opts.dynamicCacheSize ? { dynamicCacheSize: opts.dynamicCacheSize } : {}),
    }),
    bloom: new BloomFilter(content.revoked_bloom),
  };
}

/** What to do when revocation status is unknown: forbid (default), or trust the bundle's Bloom filter. */
export type OfflineRevocationMode = 'forbid' | 'bloom';

const ms = (start: number): number => Math.round((performance.now() - start) * 1000) / 1000;

/** How long a bundle's Bloom filter may stand in for the revocation list (offline `bloom` mode). */
export const DEFAULT_BLOOM_MAX_AGE_MS = 3600_000;

const APPROVAL_RANK: Readonly<Record<ApprovalMode, number>> = { none: 0, auto: 1, hitl: 2 };
/** The stricter of two approval modes (hitl > auto > none). */
export const stricterApproval = (a: ApprovalMode, b: ApprovalMode): ApprovalMode =>
  APPROVAL_RANK[b] > APPROVAL_RANK[a] ? b : a;
const isApproval = (x: unknown): x is ApprovalMode => x === 'none' || x === 'auto' || x === 'hitl';

/** Cedar's decimal: 4 fractional digits, an i64 underneath. */
const DECIMAL_MAX = 922_337_203_685;
/**
 * The request context as Cedar values. Cedar numbers are integers, so money — every number under
 * `usd` or a key ending in `_usd` (`context.spend.month_usd`, `context.budget.remaining_usd`) — and
 * the drift score (`context.drift.score`, 0…1) become Cedar decimals (4 places), whole or not, so a
 * policy compares them with `decimal("…")` whatever the value. Other values pass through as they are.
 */
export function cedarContext(context: Record<string, unknown> | undefined): Record<string, CedarValue> {
  const walk = (v: unknown, key: string, parent: string): unknown => {
    const decimal = key === 'usd' || key.endsWith('_usd') || (parent === 'drift' && key === 'score');
    if (typeof v === 'number' && decimal && Number.isFinite(v)) {
      const n = Math.max(-DECIMAL_MAX, Math.min(DECIMAL_MAX, v));
      return { __extn: { fn: 'decimal', arg: n.toFixed(4) } };
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, '', ''));
    if (v && typeof v === 'object' && !('__extn' in v) && !('__entity' in v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k, key)]));
    return v;
  };
  return walk(context ?? {}, '', '') as Record<string, CedarValue>;
}

/** Unclassified actions default to `high` (human approval) rather than silently autonomous. */
export const DEFAULT_RISK: Risk = 'high';

function forbid(
  req: DecisionRequest,
  start: number,
  bundle: LoadedBundle | null,
  errors: string[],
  determining: readonly string[] = [],
  reason?: string,
): Decision {
  const cls = bundle ? classify(bundle.content.risk, req.action) : null;
  return {
    ...(reason ? { reason } : {}),
    effect: 'forbid',
    approval: 'none',
    risk: cls?.risk ?? DEFAULT_RISK,
    determining_policies: determining,
    errors,
    evaluation_ms: ms(start),
    bundle_version: bundle ? String(bundle.content.version) : null,
    ...(cls ? { policy: cls.policy.name } : {}),
  };
}

/**
 * Decides one request against a loaded bundle (or none). Never throws: every failure is a forbid.
 * `start` is `performance.now()` at the beginning of the decision (so revocation lookups count).
 */
export function decideWith(
  bundle: LoadedBundle | null,
  req: DecisionRequest,
  revocation: RevocationState,
  opts: {
    offline?: OfflineRevocationMode;
    start?: number;
    /** The principal's inventory state; a decision point always passes it (a refusal is a forbid naming the status). */
    principal?: PrincipalState;
    /** Now (epoch ms), for the Bloom filter's age. @default Date.now() */
    now?: number;
    /** Offline `bloom` mode fails closed once the bundle is older than this. @default DEFAULT_BLOOM_MAX_AGE_MS */
    bloomMaxAgeMs?: number;
  } = {},
): Decision {
  const start = opts.start ?? performance.now();
  try {
    if (!bundle) return forbid(req, start, null, ['no policy bundle is loaded for this tenant'], [], 'no_bundle');
    if (bundle.content.policies.length === 0)
      return forbid(req, start, bundle, ['the policy store is empty'], [], 'empty_store');
    if (revocation === 'revoked') return forbid(req, start, bundle, ['principal is revoked'], [], 'principal_revoked');
    if (opts.principal && !opts.principal.ok)
      return forbid(req, start, bundle, [opts.principal.detail], [], opts.principal.reason);
    if (revocation === 'unknown') {
      const offline = opts.offline ?? 'forbid';
      if (offline === 'forbid')
        return forbid(req, start, bundle, ['revocation status unavailable'], [], 'revocation_unavailable');
      const age = (opts.now ?? Date.now()) - Date.parse(bundle.content.created_at);
      if (!(age <= (opts.bloomMaxAgeMs ?? DEFAULT_BLOOM_MAX_AGE_MS))) {
        return forbid(
          req,
          start,
          bundle,
          ['revocation status unavailable and the bundle revocation filter is past its maximum age'],
          [],
          'revocation_unavailable',
        );
      }
      if (bundle.bloom.mightContain(bloomItem(req.tenantId, req.principal.id))) {
        return forbid(
          req,
          start,
          bundle,
          ['principal may be revoked (bundle revocation filter; revocation list unreachable)'],
          [],
          'principal_revoked',
        );
      }
    }
    const connector = req.action.split(':')[0] ?? req.action;
    const r: AuthorizeResult = bundle.engine.authorize({
      principal: { type: req.principal.type, id: req.principal.id },
      action: { type: 'Action', id: req.action },
      resource: req.resource ? { type: req.resource.type, id: req.resource.id } : { type: 'Connector', id: connector },
      context: cedarContext(req.context),
    });
    if (r.type === 'failure') {
      // request validation messages are the caller's to see; an engine exception is not (F31)
      return forbid(
        req,
        start,
        bundle,
        r.errors.map((e) => (e.startsWith('evaluation failed:') ? 'evaluation_failed' : `request rejected: ${e}`)),
      );
    }
    if (r.errors.length) {
      return forbid(
        req,
        start,
        bundle,
        r.errors.map((e) => `${e.policyId}: ${e.message}`),
        [...new Set([...r.reason, ...r.errors.map((e) => e.policyId)])],
      );
    }
    if (r.decision === 'deny') return forbid(req, start, bundle, [], r.reason);
    return permit(bundle, req, r.reason, start);
  } catch {
    // the exception text stays inside (F31): callers log their own failures, agents get a code
    return forbid(req, start, bundle, ['evaluation_failed'], [], 'evaluation_failed');
  }
}

function permit(bundle: LoadedBundle, req: DecisionRequest, reason: readonly string[], start: number): Decision {
  const cls = classify(bundle.content.risk, req.action);
  const ann = reason.map((id) => bundle.content.policies.find((p) => p.id === id)?.annotations ?? {});
  let risk: Risk = cls?.risk ?? DEFAULT_RISK;
  if (!cls) {
    const annotated = ann.map((a) => a.risk).filter((x): x is Risk => (RISKS as readonly string[]).includes(x ?? ''));
    if (annotated.length) risk = annotated.reduce((a, b) => (riskRank(b) > riskRank(a) ? b : a));
  }
  // F9: the strictest approval among the determining policies wins, never weaker than the risk's default
  // a YAML gate (graduated autonomy) sets the operation's own mode in place of its risk's
  const floor: ApprovalMode = cls
    ? (cls.policy.gates?.[cls.pattern] ?? cls.policy.approval[risk])
    : DEFAULT_APPROVAL[risk];
  const approval: ApprovalMode = ann
    .map((a) => a.approval)
    .filter(isApproval)
    .reduce(stricterApproval, floor);
  const policy = cls?.policy.name ?? ann.map((a) => a.policy).find(Boolean);
  const budgets = budgetsFor(bundle.content.risk, req.action);
  return {
    effect: 'permit',
    approval,
    risk,
    determining_policies: reason,
    errors: [],
    evaluation_ms: ms(start),
    bundle_version: String(bundle.content.version),
    ...(policy ? { policy } : {}),
    ...(budgets.length ? { budgets } : {}),
    ...(approval === 'hitl'
      ? {
          hitl: {
            ...(cls?.policy.hitl_channel ? { channel: cls.policy.hitl_channel } : {}),
            timeout_seconds: cls?.policy.hitl_timeout_seconds ?? DEFAULT_HITL_TIMEOUT_S,
            separation_of_duties: cls?.policy.separation_of_duties ?? false,
          },
        }
      : {}),
  };
}

/**
 * Push-time warnings about approval annotations (F9): permits with different `@approval` that may
 * match one request (the strictest then applies), and an `@approval` weaker than the default of
 * the policy's own `@risk` (the default then applies). Advisory: the bundle is still valid.
 */
export function approvalWarnings(content: Pick<BundleContent, 'policies'>): string[] {
  const out: string[] = [];
  const permits = content.policies.filter((p) => p.effect === 'permit' && isApproval(p.annotations?.approval));
  const modes = [...new Set(permits.map((p) => p.annotations!.approval as ApprovalMode))];
  if (modes.length > 1) {
    out.push(
      `permit policies carry different @approval (${modes.join(', ')}); when several match one request the strictest applies (hitl > auto > none)`,
    );
  }
  for (const p of permits) {
    const a = p.annotations!.approval as ApprovalMode;
    const r = p.annotations?.risk as Risk | undefined;
    if (r && (RISKS as readonly string[]).includes(r) && APPROVAL_RANK[a] < APPROVAL_RANK[DEFAULT_APPROVAL[r]]) {
      out.push(
        `${p.id}: @approval("${a}") is weaker than the default for @risk("${r}") (${DEFAULT_APPROVAL[r]}); the default applies`,
      );
    }
  }
  return out;
}
