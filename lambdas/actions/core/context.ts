import type { Clock } from '../../shared/clock.js';
import type { EventSink } from '../../shared/events.js';
import type {
  AuditRecordInput,
  AuditSink,
  DecisionPoint,
  DriftReader,
  RevocationStatus,
  SpendGate,
} from '../../shared/ports.js';
import type { ActionEffects } from './effects.js';
import type {
  ActionStore,
  AgentDirectory,
  ApprovalNotifier,
  Connector,
  ConnectorConfigStore,
  CredentialBroker,
  Logger,
  SecretStore,
} from './model.js';

export interface ActionServiceDeps {
  readonly store: ActionStore;
  readonly pdp: DecisionPoint;
  readonly revocation: RevocationStatus;
  readonly agents: AgentDirectory;
  readonly audit: AuditSink;
  /** Each event commits with its state change (the store's outbox items); this publishes it after (at least once). */
  readonly events: EventSink;
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly configs: ConnectorConfigStore;
  readonly secrets: SecretStore;
  readonly credentials: CredentialBroker;
  readonly notifier: ApprovalNotifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Budgets (observability): spend in the decision context, reserve before running, settle after. */
  readonly spend?: SpendGate;
  /** Behavioural drift (drift capability): `context.drift` of every decision; fail-closed when unreadable. */
  readonly drift?: DriftReader;
  /** @default 15000 */
  readonly connectorTimeoutMs?: number;
  /** @default 250 */
  readonly pollIntervalMs?: number;
  /**
   * Monotonic milliseconds for durations (the long-poll budget, connector latency), apart from the
   * wall clock `clock` that deadlines use. @default performance.now
   */
  readonly monotonicMs?: () => number;
  /** After-the-fact audit writes go through this (retried, parked until durable) when set. */
  readonly durableAudit?: { record(input: AuditRecordInput): Promise<unknown> };
}
/** The agent calling `POST /v1/actions`, from its verified SVID. */
export interface AgentCaller {
  readonly tenantId: string;
  readonly agentId: string;
  readonly spiffeId?: string;
}

/** Who reads an action: the agent itself, or an admin/auditor of the tenant. */
export interface Reader {
  readonly tenantId: string;
  readonly agentId?: string;
}

export interface SubmitInput {
  readonly connector: string;
  readonly operation: string;
  readonly params: Record<string, unknown>;
  readonly correlation_id?: string;
  readonly reason?: string;
}

/**
 * What the parts of the actions core share, built once by `ActionService`: its dependencies, the
 * effects module (event building, audit input, after-the-fact audit and notices) and the clocks.
 */
export interface ActionContext {
  readonly d: ActionServiceDeps;
  readonly fx: ActionEffects;
  /** Monotonic milliseconds (`d.monotonicMs`, defaulted by `ActionService`). */
  readonly elapsedMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}
