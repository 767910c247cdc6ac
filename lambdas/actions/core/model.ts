import type { ZodType } from 'zod';
import { setting } from '../../shared/settings.js';
import type { ApprovalMode, Decision, Risk } from '../../shared/ports.js';
import type { OutboxEntry } from '../../shared/events.js';
import type { ApprovalStatus } from '../schemas.js';

/**
 * Domain model and ports of governed actions. The core (service.ts) talks only to these
 * interfaces; adapters/ implements them on DynamoDB, Secrets Manager, SES, Slack and HTTP.
 */

export type ActionStatus =
  /** forbidden by the PDP: nothing ran */
  | 'denied'
  /** held for a human; the connector has not run */
  | 'pending_approval'
  /** allowed (autonomously or approved); waiting for its single execution claim */
  | 'pending_execution'
  /** claimed by exactly one executor */
  | 'executing'
  | 'executed'
  | 'failed'
  /** the approval deadline passed */
  | 'expired'
  /** a human denied it */
  | 'rejected'
  /** the agent was revoked/terminated while it waited */
  | 'cancelled';

export const FINAL_ACTION_STATUSES: readonly ActionStatus[] = [
  'denied',
  'executed',
  'failed',
  'expired',
  'rejected',
  'cancelled',
];

export interface DecisionSummary {
  readonly effect: Decision['effect'];
  readonly approval: ApprovalMode;
  readonly risk: Risk;
  readonly policy: string | null;
  readonly determining_policies: readonly string[];
  readonly errors: readonly string[];
  readonly bundle_version: string | null;
  readonly evaluation_ms: number;
}

export interface ApprovalMetadata {
  readonly approval_id: string;
  readonly approver: string;
  readonly decided_at: string;
  readonly reason: string;
  readonly policy: string | null;
  /** How the decision arrived: api, slack, email or webhook. */
  readonly channel: string;
  /** Time from request to decision in ms (the brief's "approved in 2 min 15 s"). */
  readonly time_to_decision_ms: number;
}

export interface ActionError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export interface ActionRecord {
  readonly action_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly spiffe_id?: string;
  readonly connector: string;
  readonly operation: string;
  /** `connector:operation`, the PDP's action name. */
  readonly action: string;
  readonly params: Record<string, unknown>;
  /** SHA-256 of canonical (agent, connector, operation, params): what an approval binds to. */
  readonly binding_hash: string;
  readonly status: ActionStatus;
  readonly decision: DecisionSummary;
  readonly correlation_id: string;
  readonly trace_id: string;
  readonly traceparent: string;
  /** The caller's span id from its traceparent (ARX's action span is its child). */
  readonly parent_span_id?: string;
  readonly reason?: string;
  readonly approval_id?: string;
  readonly expires_at?: string;
  readonly result?: unknown;
  readonly error?: ActionError;
  readonly approval_metadata?: ApprovalMetadata;
  readonly attempts: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface ApprovalRecord {
  readonly approval_id: string;
  readonly action_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly agent_name?: string;
  readonly owner_sub?: string;
  readonly owner_email?: string;
  readonly connector: string;
  readonly operation: string;
  readonly action: string;
  /** What the approver sees (and approves): the exact params, bound by `binding_hash`. */
  readonly params: Record<string, unknown>;
  readonly binding_hash: string;
  readonly status: ApprovalStatus;
  readonly risk: Risk;
  readonly policy: string | null;
  readonly channel?: string;
  readonly separation_of_duties: boolean;
  readonly reason?: string;
  readonly correlation_id: string;
  readonly trace_id: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly decided_at?: string;
  readonly decided_by?: string;
  readonly decided_via?: string;
  readonly decision_reason?: string;
}

/** Who decides an approval, as authenticated by the API, Slack, an email link or a webhook. */
export interface Approver {
  /** Stable identity: OIDC sub, `slack:<team>/<user>`, `email:<address>` or the webhook's approver. */
  readonly id: string;
  /** Display (e-mail when known), recorded as `approval_metadata.approver`. */
  readonly display: string;
  readonly principalType: 'human' | 'agent';
  readonly agentId?: string;
  readonly email?: string;
  readonly via: 'api' | 'slack' | 'email' | 'webhook';
}

// ---------------------------------------------------------------- ports

export interface ApprovalChange {
  readonly status: Exclude<ApprovalStatus, 'pending'>;
  readonly at: string;
  readonly decided_by?: string;
  readonly decided_via?: string;
  readonly decision_reason?: string;
}

/** The largest connector result an action keeps; a larger one is stored as `{truncated, bytes}`. */
export const MAX_RESULT_BYTES = 300 * 1024;
/** What the store keeps of a connector's result (the same cap every store applies). */
export function storedResult(result: unknown): unknown {
  const s = JSON.stringify(result ?? null);
  const bytes = Buffer.byteLength(s);
  return bytes <= MAX_RESULT_BYTES ? (JSON.parse(s) as unknown) : { truncated: true, bytes };
}

export interface ActionPatch {
  readonly result?: unknown;
  readonly error?: ActionError;
  readonly approval_metadata?: ApprovalMetadata;
  readonly updated_at: string;
  readonly incrementAttempts?: boolean;
}

export interface ActionStore {
  /** Creates the action (and its approval, and the outbox items of `events`, atomically). */
  create(action: ActionRecord, approval?: ApprovalRecord, events?: readonly OutboxEntry[]): Promise<void>;
  getAction(tenantId: string, actionId: string): Promise<ActionRecord | null>;
  getApproval(tenantId: string, approvalId: string): Promise<ApprovalRecord | null>;
  /** Tenant of an approval, for callbacks (Slack, e-mail, webhook) that carry only its id. */
  approvalTenant(approvalId: string): Promise<string | null>;
  listApprovals(
    tenantId: string,
    opts: { status?: ApprovalStatus; since?: string; limit?: number },
  ): Promise<ApprovalRecord[]>;
  /**
   * Decides an approval by one conditional write on the approval item — `pending → change.status`,
   * only while pending, only with the same binding hash and, for `approved`, only before
   * `expires_at` — so exactly one of any number of racing deciders wins ('conflict' for the rest).
   * The winner then moves the action `pending_approval → actionTo`, conditional on the action's
   * binding hash still equalling the approval's; 'action_mismatch' when it does not (the action
   * is left untouched for the caller to fail). `events` commit with the approval's write (outbox).
   */
  resolveApproval(
    approval: ApprovalRecord,
    change: ApprovalChange,
    actionTo: ActionStatus,
    actionPatch?: Pick<ActionPatch, 'approval_metadata' | 'error'>,
    events?: readonly OutboxEntry[],
  ): Promise<'ok' | 'conflict' | 'action_mismatch'>;
  /**
   * Conditional status transition without events that answers the action as stored after it (one
   * conditional update returning the new item); null (nothing written) when it is not in one of `from`.
   */
  claim(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
  ): Promise<ActionRecord | null>;
  /** Conditional status transition, with the outbox items of `events`; false (nothing written) when the action is not in one of `from`. */
  transition(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
    events?: readonly OutboxEntry[],
  ): Promise<boolean>;
  /** Pending approvals whose deadline is at or before `nowIso` (all tenants; for the sweeper). */
  dueApprovals(nowIso: string, limit: number): Promise<{ tenant_id: string; approval_id: string }[]>;
  /** Actions in `pending_execution` or `executing` last changed before `olderThanIso` (all tenants; for recovery). */
  inflightActions(olderThanIso: string, limit: number): Promise<{ tenant_id: string; action_id: string }[]>;
  /** The agent's actions in the given statuses. */
  agentActions(tenantId: string, agentId: string, statuses: readonly ActionStatus[]): Promise<ActionRecord[]>;
}

/** One-time markers (Slack signatures, e-mail link nonces, webhook signatures): false when already used. */
export interface ReplayGuard {
  useOnce(key: string, expiresAt: Date): Promise<boolean>;
}

/**
 * A Slack user mapped to an ARX approver (F10). An admin creates the mapping; it becomes `active`
 * only when the named approver confirms it with their own approver token, so the Slack click is
 * tied to an identity that holds the approver role. Unmapped or unconfirmed users decide nothing.
 */
export interface SlackApproverMapping {
  readonly tenant_id: string;
  readonly slack_user_id: string;
  /** Slack workspace (team) id; when set, a click from another workspace is refused. */
  readonly team_id?: string;
  /** OIDC subject of the ARX approver. */
  readonly approver_sub: string;
  readonly approver_email?: string;
  readonly status: 'pending_confirmation' | 'active';
  readonly created_by: string;
  readonly created_at: string;
  readonly confirmed_at?: string;
}

export interface SlackApproverStore {
  getSlackApprover(tenantId: string, slackUserId: string): Promise<SlackApproverMapping | null>;
  putSlackApprover(m: SlackApproverMapping): Promise<void>;
}

/** One e-mail approve/deny link as sent (F4): a link whose nonce was not stored at send time decides nothing. */
export interface EmailLinkRecord {
  readonly tenant_id: string;
  readonly nonce: string;
  readonly approval_id: string;
  readonly decision: 'approve' | 'deny';
  readonly recipient: string;
  readonly exp: number;
}

export interface EmailLinkStore {
  putEmailLinks(links: readonly EmailLinkRecord[]): Promise<void>;
  getEmailLink(tenantId: string, nonce: string): Promise<EmailLinkRecord | null>;
}

export interface AgentInfo {
  readonly agent_id: string;
  readonly name?: string;
  readonly status: string;
  readonly owner_sub?: string;
  readonly owner_email?: string;
}

/** The inventory, read for the agent's owner (separation of duties), name and live status (F21b). */
export interface AgentDirectory {
  get(tenantId: string, agentId: string): Promise<AgentInfo | null>;
}

/** Notifies approvers on the policy's channel (Slack, e-mail, webhook). Best effort: the API always works. */
export interface ApprovalNotifier {
  notify(approval: ApprovalRecord): Promise<void>;
  /** Tells the channel the approval was resolved (e.g. updates the Slack message); best effort. */
  resolved?(approval: ApprovalRecord): Promise<void>;
}

export interface Logger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

// ---------------------------------------------------------------- connectors

/** A connector failure: `retryable` says whether running the same call again may succeed. */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Just-in-time AWS credentials for one action (the identity capability's credential broker). */
export interface CredentialBroker {
  awsCredentials(req: {
    tenantId: string;
    agentId: string;
    actionId: string;
    /** IAM actions the session may use, e.g. `iam:DeleteUser`. */
    actions: readonly string[];
    resources: readonly string[];
    roleArn?: string;
    externalId?: string;
  }): Promise<AwsCredentials>;
}

export interface ConnectorContext {
  readonly tenantId: string;
  readonly agentId: string;
  readonly actionId: string;
  readonly correlationId: string;
  readonly traceparent: string;
  /** Non-secret configuration stored by `PUT /v1/connectors/{connector}` (null if never configured). */
  readonly config: Record<string, unknown> | null;
  /** Reads the connector's secret from Secrets Manager at call time (never cached across actions). */
  secret(): Promise<Record<string, string> | null>;
  readonly credentials: CredentialBroker;
  readonly fetch: typeof fetch;
}

export interface ConnectorOperation {
  readonly description: string;
  readonly params: ZodType<Record<string, unknown>>;
  /** The risk ARX suggests for a policy that allows this operation (published in the catalog). */
  readonly risk?: Risk;
}

export interface Connector {
  readonly name: string;
  readonly description: string;
  readonly operations: Readonly<Record<string, ConnectorOperation>>;
  /** Validates `PUT /v1/connectors/{name}` input. */
  readonly configSchema: ZodType<Record<string, unknown>>;
  readonly secretSchema?: ZodType<Record<string, string>>;
  execute(ctx: ConnectorContext, operation: string, params: Record<string, unknown>): Promise<unknown>;
}

export interface ConnectorConfigStore {
  getConfig(tenantId: string, connector: string): Promise<Record<string, unknown> | null>;
  putConfig(tenantId: string, connector: string, config: Record<string, unknown>, at: string): Promise<void>;
}

export interface SecretStore {
  get(name: string): Promise<Record<string, string> | null>;
  put(name: string, value: Record<string, string>): Promise<void>;
}

/**
 * Secrets Manager name prefix of the secrets ARX writes (ARX_SECRET_PREFIX, set by the stack; `arx/` by
 * default). Two ARX stacks in one account (or two local runtimes on one emulator) keep apart by prefix.
 */
const secretPrefix = (): string => setting('ARX_SECRET_PREFIX');
export const connectorSecretName = (tenantId: string, connector: string): string =>
  `${secretPrefix()}${tenantId}/connectors/${connector}`;
export const channelSecretName = (tenantId: string, channel: string): string =>
  `${secretPrefix()}${tenantId}/${channel}`;
