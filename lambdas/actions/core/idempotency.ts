/**
 * `Idempotency-Key` for `POST /v1/actions` (issue 19 §4), the semantics of Powertools idempotency
 * on a conditional-write store:
 *
 * - the first request with a key claims it (an in-progress record naming the action id it will
 *   create) before anything runs; its outcome is the action;
 * - the same key with the same request within 24 h answers with that action (same action id) —
 *   the action itself is never submitted again;
 * - the same key with a different request is refused (422);
 * - while the first request is still running, a retry is told to come back (409, Retry-After);
 * - a request that fails before its action is stored (refused, or an internal error) releases
 *   its claim, so a retry runs at once under a new claim;
 * - a claim whose request died before it created its action (older than the function can run)
 *   is taken over by the retry, with the same action id: never a second action.
 */
import { canonicalJson, newId, sha256Hex } from '../../shared/ids.js';
import { UnprocessableError, ValidationError } from '../../shared/errors.js';
import type { ActionRecord, ActionStatus } from './model.js';

export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** RFC-draft (httpapi idempotency-key-header) keys are opaque strings; ours: 1–255 visible ASCII characters. */
const KEY = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyRecord {
  readonly tenant_id: string;
  readonly key: string;
  /** sha256 of the canonical request (agent, connector, operation, params, correlation id, reason). */
  readonly request_hash: string;
  readonly action_id: string;
  readonly status: 'in_progress' | 'completed';
  /** ISO time the current claim was taken (takeovers renew it). */
  readonly claimed_at: string;
  /** epoch seconds: the key is forgotten after this (DynamoDB TTL). */
  readonly expires_at_epoch: number;
}

export interface IdempotencyStore {
  /** Creates the record unless a live one exists; returns the existing live record otherwise. */
  claim(r: IdempotencyRecord, nowEpoch: number): Promise<IdempotencyRecord | null>;
  /** Re-claims a stale in-progress record, only if it is still the one read (`claimed_at`). */
  takeOver(r: IdempotencyRecord, previousClaimedAt: string): Promise<boolean>;
  complete(tenantId: string, key: string): Promise<void>;
  /** Forgets a claim whose request failed before its action was stored (a 4xx, or an internal error). */
  release(tenantId: string, key: string, actionId: string): Promise<void>;
}

/** The answer to a retry that finds the first request still running. */
export class IdempotencyInProgress extends Error {
  override readonly name = 'IdempotencyInProgress';
  constructor(
    readonly actionId: string,
    readonly retryAfterS: number,
  ) {
    super(`a request with this Idempotency-Key is still in progress (action ${actionId})`);
  }
}

/** Statuses in which an action's first outcome is known (everything but a claimed, running execution). */
const SETTLED: ReadonlySet<ActionStatus> = new Set([
  'denied',
  'pending_approval',
  'executed',
  'failed',
  'expired',
  'rejected',
  'cancelled',
]);

export function parseIdempotencyKey(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (!KEY.test(raw)) throw new ValidationError('Idempotency-Key must be 1–255 visible ASCII characters');
  return raw;
}

export function requestHash(agentId: string, body: unknown): string {
  return sha256Hex(canonicalJson({ agent_id: agentId, body }));
}

export interface IdempotentSubmitDeps {
  readonly store: IdempotencyStore;
  readonly now: () => Date;
  /** Reads an action of the tenant (null when absent). */
  readonly getAction: (tenantId: string, actionId: string) => Promise<ActionRecord | null>;
  /** A claim older than this belongs to a request that can no longer be running (the function's timeout + margin). */
  readonly staleAfterMs: number;
}

/**
 * Runs `submit(actionId)` at most once per (tenant, key) within 24 h and returns its action; a
 * retry returns the first request's action. `submit` must create its action with the given id.
 */
export async function idempotentSubmit(
  d: IdempotentSubmitDeps,
  req: { tenantId: string; agentId: string; key: string; body: unknown },
  submit: (actionId: string) => Promise<ActionRecord>,
): Promise<ActionRecord> {
  const now = d.now();
  const nowEpoch = Math.floor(now.getTime() / 1000);
  const mine: IdempotencyRecord = {
    tenant_id: req.tenantId,
    key: req.key,
    request_hash: requestHash(req.agentId, req.body),
    action_id: newId('act', now),
    status: 'in_progress',
    claimed_at: now.toISOString(),
    expires_at_epoch: nowEpoch + IDEMPOTENCY_TTL_S,
  };
  const existing = await d.store.claim(mine, nowEpoch);
  if (!existing) return run(d, mine, submit);

  if (existing.request_hash !== mine.request_hash) {
    throw new UnprocessableError('this Idempotency-Key was already used with a different request', {
      extensions: { action_id: existing.action_id },
    });
  }
  const action = await d.getAction(req.tenantId, existing.action_id);
  if (action && SETTLED.has(action.status)) {
    if (existing.status !== 'completed') await d.store.complete(req.tenantId, req.key).catch(() => undefined);
    return action;
  }
  const age = now.getTime() - Date.parse(existing.claimed_at);
  if (!action && existing.status === 'in_progress' && age > d.staleAfterMs) {
    // The first request died before it created its action: this retry runs it, under the same id.
    const renewed = { ...existing, claimed_at: now.toISOString() };
    if (await d.store.takeOver(renewed, existing.claimed_at)) return run(d, renewed, submit);
  }
  // Still running (or executing its connector call): never a second execution.
  throw new IdempotencyInProgress(
    existing.action_id,
    Math.max(1, Math.min(5, Math.ceil((d.staleAfterMs - age) / 1000))),
  );
}

async function run(
  d: IdempotentSubmitDeps,
  claim: IdempotencyRecord,
  submit: (actionId: string) => Promise<ActionRecord>,
): Promise<ActionRecord> {
  let action: ActionRecord;
  try {
    action = await submit(claim.action_id);
  } catch (e) {
    // The claim is forgotten only when the action is confirmed absent (read consistently after the
    // failure): the connector only ever runs on a stored action, so no action means nothing ran
    // and nothing will. That holds for a refusal (a 4xx: bad connector or params) and for an
    // internal error raised before the action was stored (a 5xx: the store, KMS or the audit log
    // failing), so the retry proceeds under the same action id instead of a 409 until the claim
    // goes stale. Once the action exists (its connector may have run, or recovery may run it), the
    // claim stays and a retry finds the action. When the read itself fails, only a refusal
    // releases (as before); an internal error keeps the claim.
    const status = (e as { status?: number }).status;
    const refused = typeof status === 'number' && status >= 400 && status < 500;
    const absent = await d.getAction(claim.tenant_id, claim.action_id).then(
      (a) => a === null,
      () => refused,
    );
    // Not released (the store failing too): the claim goes stale and a retry takes it over.
    if (absent) await d.store.release(claim.tenant_id, claim.key, claim.action_id).catch(() => undefined);
    throw e;
  }
  await d.store.complete(claim.tenant_id, claim.key).catch(() => undefined);
  return action;
}
