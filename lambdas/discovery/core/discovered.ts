import { sha256Hex } from '../../shared/ids.js';

/** How a discovered agent became known (seed C1.1, plus the push/OTLP sources of issue 13). */
export const DISCOVERY_SOURCES = [
  'list_api',
  'audit_inference',
  'egress_inference',
  'scim_inferred',
  'mcp_handshake',
  'otlp_inference',
] as const;
export type DiscoverySource = (typeof DISCOVERY_SOURCES)[number];

/** Precedence when one record has several sources: the platform's own list API is the strongest. */
const SOURCE_RANK: Record<DiscoverySource, number> = {
  list_api: 0,
  scim_inferred: 1,
  mcp_handshake: 2,
  otlp_inference: 3,
  audit_inference: 4,
  egress_inference: 5,
};

export interface DiscoveredOwner {
  readonly oidc_sub?: string;
  readonly email?: string;
  readonly team?: string;
}

/** One piece of evidence that an agent exists, as a source adapter or the ingest API reports it. */
export interface Evidence {
  readonly platform: string;
  readonly platform_native_id: string;
  readonly source: DiscoverySource;
  /** Where it came from, e.g. `aws:123456789012:us-east-1` or an ingest source id. */
  readonly origin: string;
  /** 0..1: how sure this source is that the thing is an agent. */
  readonly confidence: number;
  readonly observed_at: string;
  readonly name?: string;
  readonly owner?: DiscoveredOwner;
  readonly declared_capabilities?: readonly string[];
  /** IAM principals the agent runs as (role ARNs without session): CloudTrail calls by them are this agent's. */
  readonly principal_arns?: readonly string[];
  /** Actions observed with this evidence (e.g. one InvokeModel call); 0 for a listing. */
  readonly observed_actions?: number;
  /** The platform reports the agent gone (DeleteAgent, a listing without it). */
  readonly deleted?: boolean;
  /** Short, non-secret reasons for the confidence (e.g. `role-policy:bedrock:InvokeModel`). */
  readonly signals?: readonly string[];
  /**
   * The ARX identity that presented this evidence, authenticated (an MCP handshake through the
   * gateway with the agent's SVID): the record is sanctioned as that agent.
   */
  readonly arx_agent_id?: string;
}

/** Per-source view kept on the record: each source with its own first/last seen. */
export interface SourceEvidence {
  readonly source: DiscoverySource;
  readonly origin: string;
  readonly confidence: number;
  readonly first_seen: string;
  readonly last_seen: string;
  readonly signals: readonly string[];
}

/**
 * DiscoveredAgent (seed C1.1): identity grounded in (platform, platform_native_id); the id is
 * content-addressed from that pair and the tenant. One version of an SCD-2 history.
 */
export interface DiscoveredAgent {
  readonly tenant_id: string;
  readonly id: string;
  readonly platform: string;
  readonly platform_native_id: string;
  readonly name?: string;
  readonly owner: DiscoveredOwner | 'unknown';
  readonly declared_capabilities: readonly string[];
  readonly principal_arns: readonly string[];
  /** Actions per UTC day (`YYYY-MM-DD`), last 30 days only. */
  readonly observations: Readonly<Record<string, number>>;
  readonly observed_actions_30d: number;
  readonly first_seen: string;
  readonly last_seen: string;
  /** The strongest source of the record; `sources` lists all of them. */
  readonly source: DiscoverySource;
  readonly sources: readonly SourceEvidence[];
  readonly confidence: number;
  /** True when an ARX identity exists for (platform, platform_native_id): registered or adopted. */
  readonly sanctioned: boolean;
  readonly arx_agent_id?: string;
  readonly state: 'present' | 'deleted';
  readonly version: number;
  readonly valid_from: string;
  readonly valid_to?: string;
  readonly changed_by: string;
  readonly change_reason: string;
}

export type DiscoveryChangeKind = 'discovered' | 'updated' | 'adopted' | 'deleted';

/** Content-addressed id of a discovered agent: stable for (tenant, platform, platform_native_id). */
export function discoveredIdOf(tenantId: string, platform: string, nativeId: string): string {
  return `dag_${sha256Hex(`${tenantId}\n${platform}\n${nativeId}`).slice(0, 26)}`;
}

/** `arn:aws:sts::A:assumed-role/R/session` → `arn:aws:iam::A:role/R`; other ARNs unchanged. */
export function principalWithoutSession(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

/** Noisy-OR of independent confidences, rounded to 2 decimals: two weak signals beat one. */
export function combineConfidence(values: readonly number[]): number {
  const p = values.reduce((acc, c) => acc * (1 - Math.min(1, Math.max(0, c))), 1);
  return Math.round((1 - p) * 100) / 100;
}

/** Confidence of an audit inference: rises with the number of observed model calls. */
export function auditInferenceConfidence(actions30d: number): number {
  if (actions30d >= 100) return 0.9;
  if (actions30d >= 10) return 0.8;
  return 0.6;
}

/**
 * Confidence of an OTLP inference: the spans name the agent themselves (`gen_ai.agent.id`, the
 * GenAI semantic conventions' agent attribute), a stronger signal than a model call by an unknown
 * role; it rises with the number of spans seen in 30 days.
 */
export function otlpInferenceConfidence(spans30d: number): number {
  if (spans30d >= 100) return 0.9;
  if (spans30d >= 10) return 0.8;
  return 0.7;
}

/**
 * Confidence of an MCP handshake: an `initialize` is an MCP client declaring itself. Through the
 * gateway with an SVID the client runs as that ARX agent (certain); otherwise it is only declared.
 */
export function mcpHandshakeConfidence(attested: boolean): number {
  return attested ? 1 : 0.9;
}

const DAY_MS = 86_400_000;
const dayOf = (iso: string): string => iso.slice(0, 10);

/** Drops observation buckets older than 30 days before `now`. */
export function pruneObservations(obs: Readonly<Record<string, number>>, now: Date): Record<string, number> {
  const cutoff = dayOf(new Date(now.getTime() - 29 * DAY_MS).toISOString());
  return Object.fromEntries(Object.entries(obs).filter(([d]) => d >= cutoff));
}

const sum = (o: Readonly<Record<string, number>>): number => Object.values(o).reduce((a, b) => a + b, 0);
const uniq = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
const minIso = (a: string, b: string): string => (a <= b ? a : b);
const maxIso = (a: string, b: string): string => (a >= b ? a : b);

export interface MergeResult {
  readonly next: DiscoveredAgent;
  /** A material attribute changed: a new SCD-2 version and an `inventory.change` event. */
  readonly material: boolean;
  readonly kind: DiscoveryChangeKind;
}

/** Attributes whose change makes a new version; activity (last_seen, counters) does not. */
function materialView(a: DiscoveredAgent): unknown {
  return [
    a.name ?? null,
    a.owner,
    a.declared_capabilities,
    a.principal_arns,
    a.source,
    // Signals explain the latest evidence; they change with every event and are not attributes.
    a.sources.map((s) => [s.source, s.origin, s.confidence]),
    a.confidence,
    a.sanctioned,
    a.arx_agent_id ?? null,
    a.state,
  ];
}

/**
 * Merges one piece of evidence into the current record (or creates it). Pure: the caller stores
 * the result. Sources are kept per (source, origin) with their own first/last seen; the record's
 * confidence is the noisy-OR of its sources; a deletion reported by a source marks the record
 * `deleted` (kept, with its history), fresh evidence of presence brings it back.
 *
 * @example
 * const { next, material } = mergeEvidence(null, ev, { tenantId: 'acme', now, actor: 'scan:s1' });
 */
export function mergeEvidence(
  current: DiscoveredAgent | null,
  ev: Evidence,
  ctx: { tenantId: string; now: Date; actor: string; registeredAgentId?: string },
): MergeResult {
  const at = ctx.now.toISOString();
  const seen = ev.observed_at;
  const id = discoveredIdOf(ctx.tenantId, ev.platform, ev.platform_native_id);
  if (current && (current.platform !== ev.platform || current.platform_native_id !== ev.platform_native_id)) {
    throw new Error('evidence is about another agent');
  }
  const prevSources = current?.sources ?? [];
  const existing = prevSources.find((s) => s.source === ev.source && s.origin === ev.origin);
  const entry: SourceEvidence = existing
    ? {
        ...existing,
        confidence: ev.confidence,
        first_seen: minIso(existing.first_seen, seen),
        last_seen: maxIso(existing.last_seen, seen),
        signals: uniq([...(ev.signals ?? [])]),
      }
    : {
        source: ev.source,
        origin: ev.origin,
        confidence: ev.confidence,
        first_seen: seen,
        last_seen: seen,
        signals: uniq([...(ev.signals ?? [])]),
      };
  const sources = [...prevSources.filter((s) => s !== existing), entry].sort(
    (a, b) => SOURCE_RANK[a.source] - SOURCE_RANK[b.source] || a.origin.localeCompare(b.origin),
  );
  const observations = pruneObservations(
    ev.observed_actions
      ? {
          ...(current?.observations ?? {}),
          [dayOf(seen)]: (current?.observations[dayOf(seen)] ?? 0) + ev.observed_actions,
        }
      : (current?.observations ?? {}),
    ctx.now,
  );
  // An adopted agent keeps the owner ARX attested; otherwise the latest source naming an owner wins.
  const evOwner = ev.owner && (ev.owner.oidc_sub || ev.owner.email) ? ev.owner : undefined;
  const owner: DiscoveredOwner | 'unknown' =
    current?.sanctioned && current.owner !== 'unknown' ? current.owner : (evOwner ?? current?.owner ?? 'unknown');
  const sanctioned = Boolean(ctx.registeredAgentId ?? current?.arx_agent_id);
  const arxAgentId = ctx.registeredAgentId ?? current?.arx_agent_id;
  const base: DiscoveredAgent = {
    tenant_id: ctx.tenantId,
    id,
    platform: ev.platform,
    platform_native_id: ev.platform_native_id,
    ...((ev.name ?? current?.name) ? { name: (ev.name ?? current?.name)! } : {}),
    owner,
    declared_capabilities: uniq([...(current?.declared_capabilities ?? []), ...(ev.declared_capabilities ?? [])]),
    principal_arns: uniq([
      ...(current?.principal_arns ?? []),
      ...(ev.principal_arns ?? []).map(principalWithoutSession),
    ]),
    observations,
    observed_actions_30d: sum(observations),
    first_seen: current ? minIso(current.first_seen, seen) : seen,
    last_seen: current ? maxIso(current.last_seen, seen) : seen,
    source: sources[0]!.source,
    sources,
    confidence: combineConfidence(sources.map((s) => s.confidence)),
    sanctioned,
    ...(arxAgentId ? { arx_agent_id: arxAgentId } : {}),
    state: ev.deleted ? 'deleted' : 'present',
    version: current?.version ?? 1,
    valid_from: current?.valid_from ?? at,
    changed_by: current?.changed_by ?? ctx.actor,
    change_reason: current?.change_reason ?? `discovered by ${ev.source}`,
  };
  if (!current)
    return { next: { ...base, version: 1, valid_from: at, changed_by: ctx.actor }, material: true, kind: 'discovered' };
  const material = JSON.stringify(materialView(base)) !== JSON.stringify(materialView(current));
  if (!material) return { next: base, material: false, kind: 'updated' };
  const kind: DiscoveryChangeKind = base.state === 'deleted' && current.state !== 'deleted' ? 'deleted' : 'updated';
  return {
    next: {
      ...base,
      version: current.version + 1,
      valid_from: at,
      changed_by: ctx.actor,
      change_reason: `${kind} by ${ev.source}`,
    },
    material: true,
    kind,
  };
}

/** Marks a discovered record as the ARX identity `agentId` (adoption): a new version. */
export function adoptRecord(
  current: DiscoveredAgent,
  agentId: string,
  owner: DiscoveredOwner,
  ctx: { now: Date; actor: string },
): DiscoveredAgent {
  return {
    ...current,
    owner,
    sanctioned: true,
    arx_agent_id: agentId,
    version: current.version + 1,
    valid_from: ctx.now.toISOString(),
    changed_by: ctx.actor,
    change_reason: 'adopted',
  };
}

export interface DiscoveredFilter {
  readonly platform?: string;
  readonly source?: DiscoverySource;
  readonly sanctioned?: boolean;
  /** Case-insensitive substring of the name, native id, id or a principal ARN. */
  readonly q?: string;
  readonly owner?: string;
}

export function matchesDiscovered(a: DiscoveredAgent, f: DiscoveredFilter): boolean {
  const q = f.q?.toLowerCase();
  return (
    (!f.platform || a.platform === f.platform) &&
    (!f.source || a.sources.some((s) => s.source === f.source)) &&
    (f.sanctioned === undefined || a.sanctioned === f.sanctioned) &&
    (!f.owner || (a.owner !== 'unknown' && (a.owner.oidc_sub === f.owner || a.owner.email === f.owner))) &&
    (!q || [a.name ?? '', a.platform_native_id, a.id, ...a.principal_arns].some((s) => s.toLowerCase().includes(q)))
  );
}

/** The API view of a record (internal bookkeeping dropped). */
export function toDiscoveredView(a: DiscoveredAgent) {
  const { tenant_id: _t, observations: _o, ...rest } = a;
  return rest;
}
