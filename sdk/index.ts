/**
 * ARX client SDK: governed execution for agents (the integration brief's `arx.execute`).
 *
 * @example
 * const arx = new ArxClient({ apiUrl: 'https://arx.example.com', bootstrapToken: process.env.ARX_BOOTSTRAP_TOKEN });
 * const users = await arx.execute({ connector: 'okta', operation: 'users:read', params: { filter: 'status eq "ACTIVE"' } });
 * try {
 *   const r = await arx.execute({ connector: 'okta', operation: 'users:deactivate', params: { user_id: 'u1' }, correlationId });
 *   console.log(r.approvalMetadata); // { approval_id, approver, decided_at, reason, policy }
 * } catch (e) {
 *   if (e instanceof ActionDenied) … else if (e instanceof ApprovalExpired) …
 * }
 */
import { randomBytes, randomUUID } from 'node:crypto';

import type { Action, ActionError, ApprovalMetadata, Decision, ResponseOf } from './contract.gen.js';

/**
 * Wire types come from `./contract.gen.js`, generated from the response schemas the API's routes
 * declare (`npm run gen:contract`), so they are what ARX answers: the PDP decision, who approved
 * an action and how (`approval_metadata`), and an action as `GET /v1/actions/{id}` returns it.
 */
export type { Action, ApprovalMetadata, Decision, RouteResponses, ResponseOf } from './contract.gen.js';

export interface ActionResult<R = unknown> {
  readonly actionId: string;
  readonly status: 'executed';
  readonly result: R;
  readonly decision: Decision;
  readonly correlationId: string;
  readonly traceId: string;
  /** Set when a human approved the action (null when it ran autonomously). */
  readonly approvalMetadata: ApprovalMetadata | null;
}

export interface ExecuteInput {
  readonly connector: string;
  readonly operation: string;
  readonly params: Record<string, unknown>;
  /** Links the ARX decision to your traces (NOMA, OpenTelemetry); generated when absent. */
  readonly correlationId?: string;
  /** The agent's reasoning, shown to approvers. */
  readonly reason?: string;
  /** W3C traceparent to continue; a new trace is started when absent. */
  readonly traceparent?: string;
  /** Longest time to wait for a human decision. @default 2 h */
  readonly maxWaitMs?: number;
  /** Called once when the action is held for approval. */
  readonly onPending?: (p: { actionId: string; approvalId: string; expiresAt: string }) => void;
  /**
   * `Idempotency-Key` of this logical call (generated when absent). Every retry of the call
   * sends the same key, so ARX runs the action at most once and answers retries with the first outcome.
   */
  readonly idempotencyKey?: string;
}

/** Any failure talking to ARX. */
export class ArxSdkError extends Error {
  override name = 'ArxSdkError';
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** The action will not run: the policy forbade it, a human denied it, or it was cancelled (agent revoked). */
export class ActionDenied extends ArxSdkError {
  override name = 'ActionDenied';
  constructor(
    message: string,
    readonly actionId: string,
    readonly by: 'policy' | 'approver' | 'kill-switch',
    readonly decision?: Decision,
    body?: unknown,
  ) {
    super(message, 403, body);
  }
}

/** Nobody decided before the approval deadline; the action did not run. */
export class ApprovalExpired extends ArxSdkError {
  override name = 'ApprovalExpired';
  constructor(
    readonly actionId: string,
    readonly approvalId: string | undefined,
    body?: unknown,
  ) {
    super(`approval ${approvalId ?? ''} expired before a decision; action ${actionId} did not run`, 409, body);
  }
}

/** The connector call failed (`retryable` says whether submitting again may succeed). */
export class ActionFailed extends ArxSdkError {
  override name = 'ActionFailed';
  constructor(
    readonly actionId: string,
    readonly code: string,
    readonly retryable: boolean,
    message: string,
    body?: unknown,
  ) {
    super(message, 502, body);
  }
}

export interface ArxClientOptions {
  readonly apiUrl: string;
  /** One-time bootstrap credential from agent registration; exchanged (RFC 8693) for SVIDs. */
  readonly bootstrapToken?: string;
  /** An SVID obtained elsewhere (not refreshed). */
  readonly svid?: string;
  readonly fetch?: typeof fetch;
  /** @default 'arx' */
  readonly audience?: string;
  /** Refresh the SVID this long before it expires. @default 60000 */
  readonly refreshSkewMs?: number;
  /** Seconds per long-poll request. @default 20 */
  readonly pollWaitS?: number;
  /** Retries of transient refusals (see `isRetryable`). */
  readonly retry?: RetryOptions;
}

export interface RetryOptions {
  /** Attempts in all, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff ceiling; doubles each attempt. @default 200 */
  readonly baseDelayMs?: number;
  /** Backoff ceiling (and cap on a server's Retry-After). @default 5000 */
  readonly maxDelayMs?: number;
}

/**
 * Transient answers worth retrying: 429 (throttled) and 503 (unavailable), and API Gateway's own
 * 500 `{"message":"Internal Server Error"}` — what an HTTP API answers when its Lambda authorizer
 * fails or times out (not the handler's problem+json 500, which is not retried). A network error
 * (connection refused/reset) is retried too. POST /v1/actions is safe to retry: the SDK sends the
 * same Idempotency-Key on every attempt.
 */
export function isRetryable(status: number, body: unknown): boolean {
  if (status === 429 || status === 503) return true;
  if (status !== 500 || !body || typeof body !== 'object') return false;
  const keys = Object.keys(body);
  return keys.length === 1 && (body as { message?: unknown }).message === 'Internal Server Error';
}

/** Full-jitter exponential backoff (a random delay up to min(cap, base·2^attempt)), or the server's Retry-After when longer, capped. */
export function backoffMs(
  attempt: number,
  o: RetryOptions = {},
  retryAfter?: string | null,
  random: () => number = Math.random,
): number {
  const cap = o.maxDelayMs ?? 5000;
  const ceiling = Math.min(cap, (o.baseDelayMs ?? 200) * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  const ra = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
  return Math.min(cap, Math.max(jittered, ra));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const BOOTSTRAP_TYPE = 'urn:arx:params:oauth:token-type:bootstrap';
const REFRESH_GRANT = 'refresh_token';
const FINAL = new Set(['executed', 'failed', 'denied', 'rejected', 'expired', 'cancelled']);

function jwtExpiry(token: string): number | null {
  try {
    const p = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
    return typeof p.exp === 'number' ? p.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The bodies `POST /v1/actions` answers with, and the action `GET /v1/actions/{id}` reads. */
type Submitted =
  | ResponseOf<'POST /v1/actions', 200>
  | ResponseOf<'POST /v1/actions', 202>
  | ResponseOf<'POST /v1/actions', 403>
  | ResponseOf<'POST /v1/actions', 502>;

/** What an outcome is read from: the members every answer about one action shares. */
interface ActionView {
  readonly action_id: string;
  readonly status: Action['status'];
  readonly correlation_id: string;
  readonly trace_id: string;
  readonly decision: Decision;
  readonly result?: unknown;
  readonly error?: ActionError | null;
  readonly approval_id?: string;
  readonly approval_metadata?: ApprovalMetadata | null;
}

/**
 * Agent-side client. Obtains its SVID by token exchange and renews it before expiry (and once
 * on a 401) with the refresh token that exchange answered, waits through approvals by
 * long-polling, and turns outcomes into typed errors.
 */
export class ArxClient {
  private readonly fetch: typeof fetch;
  private readonly base: string;
  private svid: string | undefined;
  private svidExpiresAt = 0;
  /** Single use, held in memory only (never logged, never in an error): the next renewal spends it. */
  #refreshToken: string | undefined;
  private pendingToken: Promise<string> | undefined;

  constructor(private readonly o: ArxClientOptions) {
    if (!o.bootstrapToken && !o.svid) throw new ArxSdkError('ArxClient needs a bootstrapToken or an svid');
    this.fetch = o.fetch ?? fetch;
    this.base = o.apiUrl.replace(/\/$/, '');
    if (o.svid) {
      this.svid = o.svid;
      this.svidExpiresAt = jwtExpiry(o.svid) ?? Number.MAX_SAFE_INTEGER;
    }
  }

  /**
   * The current SVID. When none is valid for at least the skew, spends the refresh token for a new
   * one (grant_type=refresh_token), or the bootstrap token when no refresh token was issued yet.
   */
  async token(force = false): Promise<string> {
    const skew = this.o.refreshSkewMs ?? 60_000;
    if (!force && this.svid && Date.now() < this.svidExpiresAt - skew) return this.svid;
    // A renewal in flight has spent its token already: every caller meanwhile waits for its answer.
    if (this.pendingToken) return this.pendingToken;
    if (!this.canRenew()) {
      if (this.svid && Date.now() < this.svidExpiresAt) return this.svid;
      throw new ArxSdkError('the SVID expired and no refresh or bootstrap token is available to renew it');
    }
    this.pendingToken ??= this.exchange().finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  /** True while a refresh token or an unspent bootstrap token can get a new SVID. */
  private canRenew(): boolean {
    return this.#refreshToken !== undefined || (this.o.bootstrapToken !== undefined && !this.bootstrapSpent);
  }
  private bootstrapSpent = false;

  private async exchange(): Promise<string> {
    const refreshToken = this.#refreshToken;
    const body = refreshToken
      ? new URLSearchParams({ grant_type: REFRESH_GRANT, refresh_token: refreshToken })
      : new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: this.o.bootstrapToken!,
          subject_token_type: BOOTSTRAP_TYPE,
          audience: this.o.audience ?? 'arx',
        });
    // Spent by this request whatever it answers: never sent twice.
    this.#refreshToken = undefined;
    if (!refreshToken) this.bootstrapSpent = true;
    const res = await this.fetch(`${this.base}/v1/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    });
    const json = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      refresh_token?: string;
      error?: string;
      error_description?: string;
    };
    if (!res.ok || !json.access_token) {
      // A temporary refusal did not spend the token (the server consumes it only when it issues).
      if (res.status === 503 || res.status >= 500) {
        if (refreshToken) this.#refreshToken = refreshToken;
        else this.bootstrapSpent = false;
      }
      throw new ArxSdkError(
        `token ${refreshToken ? 'refresh' : 'exchange'} failed: ${json.error ?? res.status}${json.error_description ? ` (${json.error_description})` : ''}`,
        res.status,
        { error: json.error, error_description: json.error_description },
      );
    }
    this.#refreshToken = json.refresh_token;
    this.svid = json.access_token;
    this.svidExpiresAt = jwtExpiry(json.access_token) ?? Date.now() + (json.expires_in ?? 300) * 1000;
    return json.access_token;
  }

  private async request(
    method: string,
    path: string,
    opts: { body?: unknown; traceparent?: string; idempotencyKey?: string } = {},
  ): Promise<{ status: number; json: unknown }> {
    const maxAttempts = Math.max(1, this.o.retry?.maxAttempts ?? 5);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.token();
      let res: Response;
      try {
        res = await this.fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(opts.traceparent ? { traceparent: opts.traceparent } : {}),
            ...(opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {}),
          },
          ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        });
      } catch (e) {
        if (attempt + 1 >= maxAttempts)
          throw new ArxSdkError(`cannot reach ARX at ${this.base}: ${(e as Error).message}`);
        await sleep(backoffMs(attempt, this.o.retry));
        continue;
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      // An SVID revoked by rotation or expired early: exchange once more, then give up.
      if (res.status === 401 && !refreshed && this.canRenew()) {
        refreshed = true;
        await this.token(true);
        continue;
      }
      if (isRetryable(res.status, json) && attempt + 1 < maxAttempts) {
        await sleep(backoffMs(attempt, this.o.retry, res.headers.get('retry-after')));
        continue;
      }
      return { status: res.status, json };
    }
  }

  /**
   * Governed execute: resolves with the connector's result once ARX ran it (immediately, or
   * after a human approved it); throws ActionDenied, ApprovalExpired, ActionFailed or ArxSdkError.
   */
  async execute<R = unknown>(input: ExecuteInput): Promise<ActionResult<R>> {
    const traceparent =
      input.traceparent ?? `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    const correlationId = input.correlationId ?? randomUUID();
    const r = await this.request('POST', '/v1/actions', {
      traceparent,
      idempotencyKey: input.idempotencyKey ?? randomUUID(),
      body: {
        connector: input.connector,
        operation: input.operation,
        params: input.params,
        correlation_id: correlationId,
        ...(input.reason ? { reason: input.reason } : {}),
      },
    });
    if (r.status === 202) {
      const held = r.json as ResponseOf<'POST /v1/actions', 202>;
      input.onPending?.({ actionId: held.action_id, approvalId: held.approval_id, expiresAt: held.expires_at });
      return this.waitFor<R>(held.action_id, held.approval_id, input.maxWaitMs ?? 2 * 3600_000);
    }
    const body = r.json as Submitted | { title?: string; detail?: string } | undefined;
    if (
      (r.status === 200 || r.status === 403 || r.status === 502) &&
      body &&
      typeof body === 'object' &&
      'action_id' in body
    )
      return this.outcome<R>(body);
    const problem = (body && typeof body === 'object' ? body : {}) as { title?: string; detail?: string };
    throw new ArxSdkError(
      `ARX refused the request: ${r.status} ${problem.title ?? ''}${problem.detail ? ` — ${problem.detail}` : ''}`,
      r.status,
      r.json,
    );
  }

  /** Reads an action (long-polls up to `waitS` seconds for a final status). */
  async getAction(actionId: string, waitS = 0): Promise<Action> {
    const r = await this.request('GET', `/v1/actions/${encodeURIComponent(actionId)}${waitS ? `?wait=${waitS}` : ''}`);
    if (r.status !== 200) throw new ArxSdkError(`cannot read action ${actionId}: ${r.status}`, r.status, r.json);
    return r.json as Action;
  }

  private async waitFor<R>(
    actionId: string,
    approvalId: string | undefined,
    maxWaitMs: number,
  ): Promise<ActionResult<R>> {
    const until = Date.now() + maxWaitMs;
    for (;;) {
      const remaining = Math.ceil((until - Date.now()) / 1000);
      const a = await this.getAction(actionId, Math.max(1, Math.min(this.o.pollWaitS ?? 20, remaining)));
      if (FINAL.has(a.status)) return this.outcome<R>(a, approvalId);
      if (Date.now() >= until) throw new ArxSdkError(`gave up waiting for action ${actionId} (still ${a.status})`);
    }
  }

  private outcome<R>(a: ActionView, approvalId?: string): ActionResult<R> {
    switch (a.status) {
      case 'executed':
        return {
          actionId: a.action_id,
          status: 'executed',
          result: a.result as R,
          decision: a.decision,
          correlationId: a.correlation_id,
          traceId: a.trace_id,
          approvalMetadata: a.approval_metadata ?? null,
        };
      case 'denied':
        throw new ActionDenied(
          `policy forbids ${a.action_id}${a.decision?.errors?.length ? `: ${a.decision.errors.join('; ')}` : ''}`,
          a.action_id,
          'policy',
          a.decision,
          a,
        );
      case 'rejected':
        throw new ActionDenied(`an approver denied action ${a.action_id}`, a.action_id, 'approver', a.decision, a);
      case 'cancelled':
        throw new ActionDenied(
          `action ${a.action_id} was cancelled: ${a.error?.message ?? 'agent revoked'}`,
          a.action_id,
          'kill-switch',
          a.decision,
          a,
        );
      case 'expired':
        throw new ApprovalExpired(a.action_id, a.approval_id ?? approvalId, a);
      default:
        throw new ActionFailed(
          a.action_id,
          a.error?.code ?? 'failed',
          a.error?.retryable ?? false,
          a.error?.message ?? `action ${a.action_id} ${a.status}`,
          a,
        );
    }
  }

  /** `governTool` bound to this client. */
  governTool<I extends Record<string, unknown>, O>(
    fn: (input: I, action: ActionResult) => Promise<O> | O,
    opts: Omit<GovernToolOptions<I>, 'client'>,
  ): (input: I) => Promise<O> {
    return governTool(fn, { ...opts, client: this });
  }
}

export interface GovernToolOptions<I> {
  readonly client: ArxClient;
  readonly connector: string;
  readonly operation: string;
  /** Maps the tool input to connector params. @default the input itself */
  readonly params?: (input: I) => Record<string, unknown>;
  readonly correlationId?: (input: I) => string | undefined;
  readonly reason?: (input: I) => string | undefined;
}

/**
 * Wraps an async tool function so every call goes through ARX first: the connector operation
 * runs only when policy (and, for high risk, a human) allows it; `fn` then shapes the result
 * for the agent. Denials and expiries surface as typed errors the framework can show the LLM.
 *
 * @example
 * const deactivate = governTool(async (_input, action) => action.result, { client: arx, connector: 'okta', operation: 'users:deactivate' });
 * await deactivate({ user_id: '00u1' });
 */
export function governTool<I extends Record<string, unknown>, O>(
  fn: (input: I, action: ActionResult) => Promise<O> | O,
  opts: GovernToolOptions<I>,
): (input: I) => Promise<O> {
  return async (input: I) => {
    const correlationId = opts.correlationId?.(input);
    const reason = opts.reason?.(input);
    const action = await opts.client.execute({
      connector: opts.connector,
      operation: opts.operation,
      params: opts.params ? opts.params(input) : input,
      ...(correlationId ? { correlationId } : {}),
      ...(reason ? { reason } : {}),
    });
    return fn(input, action);
  };
}
