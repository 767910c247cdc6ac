import type { ZodType } from 'zod';

/** Roles a verified caller may hold. Every route names the roles it admits. */
export const ROLES = ['admin', 'approver', 'auditor', 'agent'] as const;
export type Role = (typeof ROLES)[number];

export type Capability =
  | 'platform'
  | 'discovery'
  | 'identity'
  | 'policy'
  | 'actions'
  | 'audit'
  | 'observability'
  | 'killswitch'
  | 'dashboard'
  | 'drift'
  | 'streaming';

/**
 * Named resources of the stack a function may use. CDK grants the access and sets the
 * environment variable in `RESOURCE_ENV` when the function's handler declares it (a use whose
 * variable the handler does not read is a grant only); the local runtime resolves the same variables from
 * the synthesised template. `null`: a grant only, whose name no handler reads (no variable is set).
 * Every variable is declared in `shared/settings.ts`.
 */
export const RESOURCE_ENV = {
  inventoryTable: 'ARX_INVENTORY_TABLE',
  controlTable: 'ARX_CONTROL_TABLE',
  revocationTable: 'ARX_REVOCATION_TABLE',
  auditTable: 'ARX_AUDIT_TABLE',
  tracesTable: 'ARX_TRACES_TABLE',
  auditBucket: 'ARX_AUDIT_BUCKET',
  bundleBucket: 'ARX_BUNDLE_BUCKET',
  artifactBucket: 'ARX_ARTIFACT_BUCKET',
  dataKey: 'ARX_DATA_KEY_ARN',
  signingKey: 'ARX_SIGNING_KEY_ARN',
  bus: 'ARX_EVENT_BUS',
  terminationStateMachine: 'ARX_TERMINATION_STATE_MACHINE_ARN',
  /** The approval workflow is started by its own construct; no handler reads its ARN. */
  approvalStateMachine: null,
  /** The credential broker's IAM grants (lib/identity.ts grantCredentialBroker); nothing to read. */
  credentialBroker: null,
} as const;
export type ResourceName = keyof typeof RESOURCE_ENV;
export type Access = 'read' | 'write';

/** One Lambda function. `entry` is a repo-relative module exporting `handler`. */
export interface FunctionSpec {
  readonly name: string;
  readonly capability: Capability;
  readonly entry: string;
  readonly description: string;
  readonly uses: Partial<Record<ResourceName, Access>>;
  /** Extra IAM actions this function needs beyond `uses`, with a reason (shown in cdk-nag acks). */
  readonly extraPermissions?: readonly {
    actions: string[];
    resources: string[];
    reason: string /** IAM condition block, e.g. `{ Null: { 'aws:ResourceTag/arx:tenant': 'false' } }`. */;
    conditions?: Record<string, Record<string, string | string[]>>;
  }[];
  /** @default 10 */
  readonly timeoutSeconds?: number;
  /** @default 512 */
  readonly memoryMb?: number;
  /** Packages installed beside the bundle instead of bundled (e.g. cedar-wasm, which loads a .wasm file). */
  readonly nodeModules?: readonly string[];
  /** Extra environment variables (non-secret constants). */
  readonly environment?: Readonly<Record<string, string>>;
}

export type RouteAuth =
  /** Bearer token verified by the Lambda authorizer (human OIDC JWT or agent SVID). */
  | 'bearer'
  /** No authorizer: public routes (healthz, OpenAPI, JWKS) and routes whose body authenticates. */
  | 'none';

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** API Gateway path template, e.g. `/v1/identity/agents/{id}`. */
  readonly path: string;
  /** Name of the FunctionSpec serving this route. */
  readonly fn: string;
  readonly auth: RouteAuth;
  /** Roles admitted; empty for `auth: 'none'`. */
  readonly roles: readonly Role[];
  readonly summary: string;
  /** Request body schema (JSON unless `bodyType` says otherwise). Strict: unknown fields are refused. */
  readonly body?: ZodType;
  /** @default 'json' */
  readonly bodyType?: 'json' | 'form' | 'raw' | 'binary';
  /** Largest body accepted (bytes, after base64 decoding); 413 above it. @default MAX_BODY_BYTES (256 KiB) */
  readonly maxBodyBytes?: number;
  /**
   * Media type the OpenAPI document states for the body (the handler validates `raw` bodies itself).
   * @default 'application/json' ('application/x-www-form-urlencoded' for `form`)
   */
  readonly contentType?: string;
  readonly query?: ZodType;
  /**
   * The success status, a short description and the schema of the body the route answers with
   * (every route declares one; test/unit/shared/contract.test.ts checks it). The OpenAPI document
   * and the SDK's types (`sdk/contract.gen.ts`) are derived from it.
   */
  readonly response?: ResponseSpec;
  /**
   * Other statuses answered with a body that is not the problem shape (e.g. 202 pending, 403 denied).
   * Every other error status answers RFC 9457 problem details (`shared/responses.ts` `ErrorBody`).
   */
  readonly otherResponses?: readonly ResponseSpec[];
}

export interface ResponseSpec {
  readonly status: number;
  readonly description: string;
  /** Schema of the body; omitted only for a status that answers without a body (204). */
  readonly schema?: ZodType;
  /** @default 'application/json' (a `text/*` body is a string schema) */
  readonly contentType?: string;
}

export interface EventSubscriptionSpec {
  readonly name: string;
  readonly fn: string;
  /** EventBridge detail-types this consumer receives (source `arx` unless `sources` says otherwise). */
  readonly detailTypes: readonly string[];
  /** `default`: a rule on the account's default bus (AWS service events, e.g. CloudTrail). @default 'arx' */
  readonly bus?: 'arx' | 'default';
  /** Event sources matched, for AWS service events on the default bus. @default ['arx'] */
  readonly sources?: readonly string[];
  /** EventBridge content filter on `detail` (e.g. `{ eventName: [...] }`). */
  readonly detail?: Readonly<Record<string, unknown>>;
  /**
   * The rule state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`: CloudTrail read-only management
   * events (such as bedrock InvokeModel/Converse) reach the default bus only for rules in this state.
   */
  readonly allManagementEvents?: boolean;
}

export interface ScheduleSpec {
  readonly name: string;
  readonly fn: string;
  /** `rate(N minute|minutes|hour|hours|day|days)`; the local runtime runs the same rate. */
  readonly rate: string;
}

export interface CapabilityTopology {
  readonly functions: readonly FunctionSpec[];
  readonly routes: readonly RouteSpec[];
  readonly events?: readonly EventSubscriptionSpec[];
  readonly schedules?: readonly ScheduleSpec[];
}

export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** EventBridge source for every ARX event. */
export const EVENT_SOURCE = 'arx';
