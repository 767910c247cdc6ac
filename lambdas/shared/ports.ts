/**
 * Cross-capability ports. Each capability implements its own; the others code against these
 * shapes so capabilities stay decoupled (one port, several adapters).
 */

// ---------------------------------------------------------------- callers
/** The verified human or agent behind an administrative operation (tenant from the token). */
export interface Caller {
  readonly tenantId: string;
  readonly subject: string;
}

/** Correlation and W3C trace ids an operation carries into its events and audit records. */
export interface TraceIds {
  readonly correlationId: string;
  readonly traceId: string;
}

// ---------------------------------------------------------------- policy (C3)
export type Effect = 'permit' | 'forbid';
export type ApprovalMode = 'none' | 'auto' | 'hitl';
export type Risk = 'low' | 'medium' | 'high' | 'critical';

export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

export interface DecisionRequest {
  readonly tenantId: string;
  readonly principal: EntityRef; // { type: 'Agent', id: agent_id }
  /** `connector:resource:verb`, e.g. `okta:users:deactivate`. */
  readonly action: string;
  readonly resource?: EntityRef;
  readonly context?: Record<string, unknown>;
}

/** ARCHITECTURE.md decision shape. Any error, empty store or revoked principal is a forbid. */
export interface Decision {
  readonly effect: Effect;
  readonly approval: ApprovalMode;
  readonly risk: Risk;
  readonly determining_policies: readonly string[];
  readonly errors: readonly string[];
  readonly evaluation_ms: number;
  readonly bundle_version: string | null;
  /** Name of the YAML policy that classified the action (e.g. `okta-access-review`), when any. */
  readonly policy?: string;
  /** From the YAML policy: where and how long to hold a `hitl` action. */
  readonly hitl?: {
    readonly channel?: string;
    readonly timeout_seconds: number;
    readonly separation_of_duties: boolean;
  };
  /**
   * Stable code of why a request was refused before policy evaluation, e.g. `principal_unknown`,
   * `principal_suspended`, `principal_terminated`, `principal_status_unavailable`, `decision_point_failure`.
   */
  readonly reason?: string;
  /**
   * The YAML policies' `budget`s that govern this action (a permit only). Cedar refuses once the
   * spend has reached one; the actions path also reserves the action's price against each before it
   * runs, so concurrent actions cannot overshoot it.
   */
  readonly budgets?: readonly PolicyBudget[];
}

/** A YAML policy's `budget: {period, usd, over}`, as a decision names it. */
export interface PolicyBudget {
  /** The YAML policy's name (its Cedar policy is `<name>/budget`). */
  readonly policy: string;
  readonly period: 'day' | 'month';
  readonly usd: number;
  readonly over: 'forbid' | 'hitl';
  /** Where and how long to hold the action once this budget is spent (the policy's `hitl_*`). */
  readonly hitl?: {
    readonly channel?: string;
    readonly timeout_seconds: number;
    readonly separation_of_duties: boolean;
  };
}

export interface DecisionPoint {
  decide(req: DecisionRequest): Promise<Decision>;
}

// ---------------------------------------------------------------- agent inventory (C1/C2)
/** Lifecycle states of a registered agent. */
export const AGENT_STATUSES = ['active', 'suspended', 'revoked', 'terminated'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** The owner binding of an agent (seed C2.3). */
export interface OwnerBinding {
  readonly oidc_sub: string;
  readonly email?: string;
  readonly team?: string;
  readonly attested_at: string;
  readonly attestation_method: 'registration' | 'api' | 'reattest';
  /** `orphaned` when the owner left (leaver signal) and nobody re-attested. */
  readonly status: 'live' | 'orphaned';
  readonly orphaned_at?: string;
}

/**
 * One version of an agent in the inventory (SCD type 2): every change writes a new version with
 * `valid_from`; the previous version gets `valid_to`. The current version is also kept under a
 * `CURRENT` key for reads.
 */
export interface AgentRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly spiffe_id: string;
  readonly platform: string;
  readonly platform_native_id: string;
  readonly name?: string;
  readonly cohort?: string;
  readonly owner: OwnerBinding;
  readonly status: AgentStatus;
  readonly version: number;
  readonly created_at: string;
  readonly valid_from: string;
  readonly valid_to?: string;
  readonly last_rotated_at?: string;
  /** Bumped by rotate: SVIDs carrying an older generation are invalid. */
  readonly credential_generation: number;
  readonly changed_by: string;
  readonly change_reason: string;
}

export type InventoryChangeKind = 'registered' | 'status' | 'owner' | 'rotated' | 'updated';

/** Payload of the `inventory.change` event. */
export interface InventoryChange {
  readonly event_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly change: InventoryChangeKind;
  readonly version: number;
  readonly status: AgentStatus;
  readonly at: string;
  readonly actor: string;
  readonly correlation_id: string;
  readonly trace_id: string;
}

export interface AgentFilter {
  readonly platform?: string;
  readonly status?: AgentStatus;
  readonly owner?: string;
  readonly cohort?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly next_token?: string;
}

/** Extra item written in the same transaction (e.g. a hashed bootstrap token in the control table). */
export interface ExtraPut {
  readonly table: string;
  readonly item: Record<string, unknown>;
  /** Condition (e.g. `attribute_not_exists(pk)`); omitted means unconditional. */
  readonly condition?: string;
}

/**
 * Port: the agent inventory, which identity writes (register, lifecycle, owners), discovery lists
 * and adopts into, and the kill switch terminates in (identity's DynamoInventoryStore implements
 * it). Writes are atomic with their change event (transactional outbox).
 */
export interface InventoryStore {
  /** Creates version 1. ConflictError when (tenant, platform, platform_native_id) is already registered. */
  create(record: AgentRecord, change: InventoryChange, extra?: readonly ExtraPut[]): Promise<void>;
  get(tenantId: string, agentId: string): Promise<AgentRecord | null>;
  /**
   * Writes version `current.version + 1` with `patch` applied, closing the current version.
   * ConflictError when the stored version moved on (optimistic concurrency).
   */
  update(
    current: AgentRecord,
    patch: Partial<
      Pick<AgentRecord, 'status' | 'owner' | 'cohort' | 'name' | 'last_rotated_at' | 'credential_generation'>
    >,
    meta: { at: string; actor: string; reason: string; change: InventoryChange },
    options?: { requireStatusIn?: readonly AgentStatus[]; extra?: readonly ExtraPut[] },
  ): Promise<AgentRecord>;
  list(tenantId: string, filter: AgentFilter, limit: number, nextToken?: string): Promise<Page<AgentRecord>>;
  /** All versions, oldest first. */
  history(tenantId: string, agentId: string): Promise<AgentRecord[]>;
}

// ---------------------------------------------------------------- inventory reader (C1/C2)
/** What a decision point needs to know about a principal from the agent inventory. */
export interface PrincipalInventoryRecord {
  readonly status: 'active' | 'suspended' | 'revoked' | 'terminated';
  /** The owner binding's state; `orphaned` since `orphaned_at` when the owner left. */
  readonly owner_status?: 'live' | 'orphaned';
  readonly orphaned_at?: string;
  /** Discovery's flag; `false` means found but never sanctioned (absent = registered through ARX). */
  readonly sanctioned?: boolean;
}

/**
 * Port: reads a principal's current inventory state ("inventory reader"). `null` = not in the
 * inventory. Throws when the inventory cannot be read (callers fail closed).
 */
export interface InventoryReader {
  principal(tenantId: string, agentId: string): Promise<PrincipalInventoryRecord | null>;
}

// ---------------------------------------------------------------- audit (C4)
export interface AuditRecordInput {
  readonly tenant_id: string;
  /** e.g. `policy.decision`, `decision.approved`, `operation.executed`, `identity.agent.registered`, `agent.terminated`. */
  readonly event_type: string;
  readonly agent_id?: string;
  readonly principal_spiffe_id?: string;
  /** The governed action or the administrative operation. */
  readonly action: string;
  readonly target?: string;
  readonly decision?: string;
  readonly occurred_at: string;
  readonly correlation_id: string;
  readonly trace_id: string;
  /** Full payload: redacted in the chain, stored encrypted under the tenant key, only its hash chained. */
  readonly payload: Record<string, unknown>;
}

export interface AuditSink {
  /** Durably records the event before returning; throws when it cannot (callers fail closed). */
  record(input: AuditRecordInput): Promise<{ event_id: string }>;
}

// ---------------------------------------------------------------- revocation list (C6.2)
/**
 * Staleness bound of every hot-path revocation cache. Half a second, so that a revoked or
 * terminated agent is refused within 1 s of its entry even with a request in flight.
 */
export const REVOCATION_CACHE_MS = 500;

export interface RevocationEntry {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly spiffe_id: string;
  readonly revoked_at: string;
  readonly reason_code: 'revoked' | 'terminated' | 'rotated' | 'suspended';
  /** ISO time after which the entry may disappear: max(token TTL, 30 days). */
  readonly ttl_until: string;
}

/** What a revocation check answers: `unknown` when the list cannot be read (callers fail closed). */
export type RevocationState = 'revoked' | 'clear' | 'unknown';

/**
 * Port: an agent's revocation status with a bounded staleness window (REVOCATION_CACHE_MS), as
 * shared/revocation.ts CachedRevocationChecker and the PDP extension's cache implement it.
 */
export interface RevocationStatus {
  status(tenantId: string, agentId: string): Promise<RevocationState>;
}

// ---------------------------------------------------------------- kill switch hooks (C6)
/**
 * Port (actions implements it, the kill switch's drain step calls it): cancels an agent's pending
 * approvals and refuses its approved-but-not-started actions. Idempotent.
 */
export interface ApprovalDrainer {
  cancelPendingForAgent(
    tenantId: string,
    agentId: string,
    reason: string,
  ): Promise<{ cancelled: number; ids?: readonly string[] }>;
}

/** Port (audit implements it, the exit attestation reads it): what an agent did. */
export interface ActivityReader {
  summarize(tenantId: string, agentId: string, since: Date, until: Date): Promise<AgentActivity>;
  /** The latest sealed block of the tenant's chain (id + hash), when there is one. */
  chainHead(tenantId: string): Promise<{ block_id?: string; height?: number; head_hash?: string } | null>;
}
export interface AgentActivity {
  /** Counts by action name (`okta:users:read` → 12). */
  readonly action_counts: Readonly<Record<string, number>>;
  readonly approvals: readonly Record<string, unknown>[];
  readonly drift_events?: readonly Record<string, unknown>[];
  readonly events_seen: number;
  /** Set when the activity could not be read (the attestation says so instead of guessing). */
  readonly unavailable_reason?: string;
}

// ---------------------------------------------------------------- spend and budgets (C5)
/**
 * Spend and budget of an agent for the Cedar context (`context.spend`, `context.budget`; the PDP
 * passes every `*_usd` as a Cedar decimal). `day_usd`/`month_usd` are the agent's own spend in the
 * current UTC day and month (what a YAML policy's `budget` reads); `period_usd` and `budget` are
 * those of the tightest budget set through `PUT /v1/usage/budgets`, when one applies.
 */
export interface SpendContext {
  readonly spend: {
    readonly day_usd: number;
    readonly month_usd: number;
    readonly period_usd?: number;
    readonly period?: 'day' | 'month';
  };
  readonly budget?: {
    readonly usd: number;
    readonly remaining_usd: number;
    readonly period: 'day' | 'month';
    readonly over: 'forbid' | 'hitl';
  };
}
export type Reservation =
  /** `held`: whether any budget counter was reserved (false: no budget applied, nothing to settle). */
  | { readonly ok: true; readonly id: string; readonly usd: number; readonly held: boolean }
  | {
      readonly ok: false;
      readonly over: 'forbid' | 'hitl';
      readonly remaining_usd: number;
      /** The YAML budget that refused, when it was one (not a `PUT /v1/usage/budgets` budget). */
      readonly budget?: PolicyBudget;
    };

export interface ReserveOptions {
  /** The decision's YAML budgets ({@link Decision.budgets}): each bounds the agent's own counter for its period. */
  readonly budgets?: readonly PolicyBudget[];
  /**
   * A human approved the action: an `over: hitl` budget was theirs to overrule, so it counts the
   * spend but no longer refuses; `over: forbid` budgets still do.
   */
  readonly approved?: boolean;
}

/**
 * Budget gate the governed-action path consults (observability implements it): the spend for the
 * decision context, then reserve-before-execute and settle-after (against the `PUT /v1/usage/budgets`
 * budgets and the decision's YAML budgets), so concurrent actions cannot overshoot a budget.
 */
export interface SpendGate {
  /** The agent's spend, with the tightest applicable budget (null only when spend cannot be read). */
  context(tenantId: string, agentId: string): Promise<SpendContext | null>;
  reserve(
    tenantId: string,
    agentId: string,
    action: string,
    reservationId: string,
    opts?: ReserveOptions,
  ): Promise<Reservation>;
  /** Settles a reservation: `spent` books the reserved cost, `released` frees it. Idempotent. */
  settle(tenantId: string, reservationId: string, outcome: 'spent' | 'released'): Promise<void>;
}

// ---------------------------------------------------------------- behavioural drift
/**
 * The agent's drift for the Cedar context (`context.drift`; the PDP passes `score` as a Cedar
 * decimal, 0…1, 0.5 = the alert line). `available: false` when the drift store could not be read:
 * then the score is 1 and `alert` true, so a policy holding drifting agents fails closed.
 */
export interface DriftContext {
  readonly drift: {
    readonly score: number;
    readonly alert: boolean;
    readonly warming_up: boolean;
    readonly available: boolean;
  };
}

/** Port (drift implements it, the governed-action path reads it): an agent's drift for the decision context. */
export interface DriftReader {
  /** Never throws: answers the fail-closed context when the drift store cannot be read. */
  context(tenantId: string, agentId: string): Promise<DriftContext>;
}

// ---------------------------------------------------------------- approval history (graduated autonomy)
/** A decided approval, as graduated autonomy weighs it. */
export interface DecidedApproval {
  readonly approval_id: string;
  readonly agent_id: string;
  /** `connector:resource:verb`. */
  readonly action: string;
  /** The YAML policy that classified the action, when any. */
  readonly policy: string | null;
  readonly risk: Risk;
  readonly status: 'approved' | 'denied' | 'expired';
  readonly created_at: string;
  readonly decided_at?: string;
  readonly decided_by?: string;
}

/**
 * Port (actions implements it, policy's recommendations read it): the tenant's approvals decided
 * since a time. An approver cannot edit what they approve (the parameters are bound by the
 * action's binding hash), so every approval is an approval of the request as made.
 */
export interface ApprovalHistory {
  decided(tenantId: string, sinceIso: string): Promise<readonly DecidedApproval[]>;
}

// ---------------------------------------------------------------- tenant signer (C2)
/** A tenant's public verification key (RFC 7517 JWK, P-256); `kid` is its RFC 7638 thumbprint. */
export interface PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

/** A signature by a tenant key: ES256, the 64-byte JOSE form R‖S (RFC 7518 §3.4). */
export interface TenantSignature {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly signature: Uint8Array;
}

/** Port: the public keys a verifier accepts for a tenant's signatures (never another tenant's). */
export interface TenantKeySet {
  /**
   * Every key this tenant's signer has signed with, the active key first: signed artefacts that
   * outlive a rotation (bundles, exit attestations, block heads) must still verify. Empty when the
   * tenant has no key yet; nothing is created by a read. Throws when the keys cannot be read.
   */
  publicKeys(tenantId: string): Promise<readonly PublicJwk[]>;
}

/**
 * Port: the tenant signer (identity implements it once, on KMS: one ECC_NIST_P256 key per tenant,
 * `alias/arx/<tenant>/signing`). SVIDs, policy bundles and exit attestations are signed with it;
 * audit block heads with the same implementation over the tenant's audit key set. `sign` never
 * uses a local or another tenant's key: when KMS cannot sign it throws and nothing is issued.
 *
 * @example
 * const { kid, signature } = await signer.sign('acme', bytes);
 * verifyTenantSignature(await signer.publicKeys('acme'), kid, bytes, signature); // true
 */
export interface TenantSigner extends TenantKeySet {
  /** kid of the key `sign` uses for this tenant now (provisioned on first use). */
  activeKid(tenantId: string): Promise<string>;
  /** ECDSA P-256 / SHA-256 over `message` with the tenant's active key. */
  sign(tenantId: string, message: Uint8Array): Promise<TenantSignature>;
}

// ---------------------------------------------------------------- discovery evidence (C1)
/**
 * One agent another capability saw that discovery should know about (the `discovery.evidence`
 * event). The producer reports what it observed; discovery decides confidence and merges it into
 * the inventory under (platform, platform_native_id).
 */
export interface DiscoveryEvidenceItem {
  readonly platform: string;
  readonly platform_native_id: string;
  readonly name?: string;
  /** When it was seen (span start, handshake time): ISO 8601. */
  readonly observed_at: string;
  /** Actions seen with this evidence (e.g. spans in the batch); 0 for a handshake. */
  readonly observed_actions?: number;
  readonly declared_capabilities?: readonly string[];
  /** Short, non-secret reasons (e.g. `otel:gen_ai.agent.id`). */
  readonly signals?: readonly string[];
  /**
   * The ARX identity that presented this evidence, authenticated by its SVID (an MCP handshake
   * through the gateway): the record is that agent's, sanctioned through it. Absent: a shadow.
   */
  readonly arx_agent_id?: string;
}

/** Detail of a `discovery.evidence` event (committed through the outbox, consumed by discovery). */
export interface DiscoveryEvidenceDetail {
  readonly event_id: string;
  readonly tenant_id: string;
  readonly correlation_id: string;
  readonly trace_id: string;
  readonly source: 'otlp_inference' | 'mcp_handshake';
  /** Where it was seen, e.g. `otlp` or `mcp:hosted:<connector>`. */
  readonly origin: string;
  readonly items: readonly DiscoveryEvidenceItem[];
  [key: string]: unknown;
}
