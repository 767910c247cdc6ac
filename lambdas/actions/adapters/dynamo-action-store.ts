import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { epochSeconds } from '../../shared/clock.js';
import { isConditionalCheckFailed, queryPages, writeIf } from '../../shared/dynamo.js';
import type { OutboxEntry } from '../../shared/events.js';
import { outboxItem, updateWithEvents } from '../../shared/outbox.js';
import { TtlCache } from '../../shared/ttl-cache.js';
import type {
  ActionPatch,
  ActionRecord,
  ActionStatus,
  ActionStore,
  ApprovalChange,
  ApprovalRecord,
  ConnectorConfigStore,
  EmailLinkRecord,
  EmailLinkStore,
  ReplayGuard,
  SlackApproverMapping,
  SlackApproverStore,
} from '../core/model.js';
import { storedResult } from '../core/model.js';
import type { ApprovalStatus } from '../schemas.js';

/**
 * Control-table layout of the actions capability:
 * - action   `T#<t>#ACTION#<id>` / `ACTION`; gsi1 `T#<t>#AGENTACTIONS#<agent>` / `<created_at>#<id>`
 * - approval `T#<t>#APPROVAL#<id>` / `APPROVAL`; gsi1 `T#<t>#APPROVALS` / `<status>#<created_at>#<id>`;
 *   while pending, gsi2 `APPROVALS#PENDING` / `<expires_at>#<t>#<id>` (sparse: the sweeper's queue)
 * - approval ref `APPROVALREF#<id>` / `REF` → tenant (Slack/e-mail/webhook callbacks carry only the id)
 * - connector config `T#<t>#CONNECTOR#<name>` / `CONFIG`
 * - one-time markers `REPLAY#<key>` / `ONCE` with TTL `expires_at_epoch`
 * - Slack approver mapping `T#<t>#SLACKAPPROVER#<slack user id>` / `MAPPING`
 * - e-mail link as sent `T#<t>#EMAILLINK#<nonce>` / `LINK` with TTL `expires_at_epoch`
 * - the events a write announces: outbox items (`shared/outbox.ts`) in the same transaction
 * Params and results are stored as JSON strings so they round-trip exactly.
 */
const actionKey = (t: string, id: string) => ({ pk: `T#${t}#ACTION#${id}`, sk: 'ACTION' });
const approvalKey = (t: string, id: string) => ({ pk: `T#${t}#APPROVAL#${id}`, sk: 'APPROVAL' });
const approvalsPk = (t: string) => `T#${t}#APPROVALS`;
const PENDING_PK = 'APPROVALS#PENDING';
const INFLIGHT_PK = 'ACTIONS#INFLIGHT';
const INFLIGHT: readonly ActionStatus[] = ['pending_execution', 'executing'];
const inflightSk = (updatedAt: string, t: string, id: string) => `${updatedAt}#${t}#${id}`;

function toActionItem(a: ActionRecord): Record<string, unknown> {
  const { params, result, ...rest } = a;
  return {
    ...rest,
    ...actionKey(a.tenant_id, a.action_id),
    gsi1pk: `T#${a.tenant_id}#AGENTACTIONS#${a.agent_id}`,
    gsi1sk: `${a.created_at}#${a.action_id}`,
    params_json: JSON.stringify(params),
    ...(result !== undefined ? { result_json: JSON.stringify(result) } : {}),
    ...(INFLIGHT.includes(a.status)
      ? { gsi2pk: INFLIGHT_PK, gsi2sk: inflightSk(a.updated_at, a.tenant_id, a.action_id) }
      : {}),
  };
}

function fromActionItem(it: Record<string, unknown>): ActionRecord {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _h, gsi2pk: _i, gsi2sk: _j, params_json, result_json, ...rest } = it;
  return {
    ...(rest as unknown as ActionRecord),
    params: JSON.parse(String(params_json)) as Record<string, unknown>,
    ...(result_json !== undefined ? { result: JSON.parse(String(result_json)) as unknown } : {}),
  };
}

function toApprovalItem(a: ApprovalRecord): Record<string, unknown> {
  const { params, ...rest } = a;
  return {
    ...rest,
    ...approvalKey(a.tenant_id, a.approval_id),
    gsi1pk: approvalsPk(a.tenant_id),
    gsi1sk: `${a.status}#${a.created_at}#${a.approval_id}`,
    ...(a.status === 'pending'
      ? { gsi2pk: PENDING_PK, gsi2sk: `${a.expires_at}#${a.tenant_id}#${a.approval_id}` }
      : {}),
    params_json: JSON.stringify(params),
  };
}

function fromApprovalItem(it: Record<string, unknown>): ApprovalRecord {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _h, gsi2pk: _i, gsi2sk: _j, params_json, ...rest } = it;
  return { ...(rest as unknown as ApprovalRecord), params: JSON.parse(String(params_json)) as Record<string, unknown> };
}

/**
 * Serialises this process's conditional writes per item. DynamoDB evaluates a condition and
 * applies the write atomically per item, which is what makes racing deciders (in separate Lambda
 * processes) execute once; moto_server does not — it reads, checks and writes without a lock, so
 * under load two conditional updates of one item can both succeed. The local runtime serves every
 * request from one process, so this per-item queue restores DynamoDB's semantics there and costs
 * nothing in production (one item is rarely written concurrently by one process).
 */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
const itemLocks = new KeyedMutex();

/** Largest result kept on the action item; bigger results are replaced by a truncation note. */

/**
 * How long a connector's config read is reused: a change made through this process applies at
 * once, one made by another function instance within this window.
 */
export const CONFIG_CACHE_MS = 30_000;
const configCache = new TtlCache<Record<string, unknown> | null>(CONFIG_CACHE_MS);

const resultJson = (result: unknown): string => JSON.stringify(storedResult(result));

export class DynamoActionStore
  implements ActionStore, ConnectorConfigStore, ReplayGuard, SlackApproverStore, EmailLinkStore
{
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async create(action: ActionRecord, approval?: ApprovalRecord, events: readonly OutboxEntry[] = []): Promise<void> {
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
      { Put: { TableName: this.table, Item: toActionItem(action), ConditionExpression: 'attribute_not_exists(pk)' } },
    ];
    if (approval) {
      items.push(
        {
          Put: {
            TableName: this.table,
            Item: toApprovalItem(approval),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { pk: `APPROVALREF#${approval.approval_id}`, sk: 'REF', tenant_id: approval.tenant_id },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      );
    }
    items.push(...this.outboxPuts(events, action.updated_at));
    await this.client.send(new TransactWriteCommand({ TransactItems: items }));
  }

  private outboxPuts(events: readonly OutboxEntry[], at: string) {
    return events.map((e) => ({ Put: { TableName: this.table, Item: outboxItem(e, at) } }));
  }

  /** One conditional update, or a transaction with the outbox items of the events it announces. */
  private update(
    u: {
      Key: Record<string, unknown>;
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
    events: readonly OutboxEntry[],
    at: string,
  ): Promise<void> {
    return updateWithEvents(this.client, { TableName: this.table, ...u }, events, at);
  }

  async getAction(tenantId: string, actionId: string): Promise<ActionRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: actionKey(tenantId, actionId), ConsistentRead: true }),
    );
    return r.Item ? fromActionItem(r.Item) : null;
  }

  async getApproval(tenantId: string, approvalId: string): Promise<ApprovalRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: approvalKey(tenantId, approvalId), ConsistentRead: true }),
    );
    return r.Item ? fromApprovalItem(r.Item) : null;
  }

  async approvalTenant(approvalId: string): Promise<string | null> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(approvalId)) return null;
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `APPROVALREF#${approvalId}`, sk: 'REF' },
        ConsistentRead: true,
      }),
    );
    return r.Item ? String(r.Item.tenant_id) : null;
  }

  async listApprovals(
    tenantId: string,
    opts: { status?: ApprovalStatus; since?: string; limit?: number },
  ): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    const max = opts.limit ?? 10_000;
    // Whole pages (no Limit), stopping after the page that reaches `max`: the newest of what was read.
    const pages = queryPages(this.client, {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: opts.status ? 'gsi1pk = :p AND begins_with(gsi1sk, :s)' : 'gsi1pk = :p',
      ExpressionAttributeValues: {
        ':p': approvalsPk(tenantId),
        ...(opts.status ? { ':s': `${opts.status}#` } : {}),
      },
    });
    for await (const page of pages) {
      for (const it of page) {
        const a = fromApprovalItem(it);
        if (!opts.since || a.created_at >= opts.since) out.push(a);
      }
      if (out.length >= max) break;
    }
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, max);
  }

  resolveApproval(
    approval: ApprovalRecord,
    change: ApprovalChange,
    actionTo: ActionStatus,
    actionPatch?: Pick<ActionPatch, 'approval_metadata' | 'error'>,
    events: readonly OutboxEntry[] = [],
  ): Promise<'ok' | 'conflict' | 'action_mismatch'> {
    return itemLocks.run(`${this.table}|approval|${approval.tenant_id}|${approval.approval_id}`, () =>
      this.resolveApprovalNow(approval, change, actionTo, actionPatch, events),
    );
  }

  private async resolveApprovalNow(
    approval: ApprovalRecord,
    change: ApprovalChange,
    actionTo: ActionStatus,
    actionPatch: Pick<ActionPatch, 'approval_metadata' | 'error'> | undefined,
    events: readonly OutboxEntry[],
  ): Promise<'ok' | 'conflict' | 'action_mismatch'> {
    const approvalSets = ['#status = :to', 'decided_at = :at', 'gsi1sk = :sk'];
    const approvalVals: Record<string, unknown> = {
      ':to': change.status,
      ':at': change.at,
      ':sk': `${change.status}#${approval.created_at}#${approval.approval_id}`,
      ':pending': 'pending',
      ':h': approval.binding_hash,
    };
    if (change.decided_by) {
      approvalSets.push('decided_by = :by');
      approvalVals[':by'] = change.decided_by;
    }
    if (change.decided_via) {
      approvalSets.push('decided_via = :via');
      approvalVals[':via'] = change.decided_via;
    }
    if (change.decision_reason) {
      approvalSets.push('decision_reason = :why');
      approvalVals[':why'] = change.decision_reason;
    }
    let approvalCond = '#status = :pending AND binding_hash = :h';
    if (change.status === 'approved') approvalCond += ' AND expires_at > :at';

    const actionSets = ['#status = :to', 'updated_at = :at'];
    const actionVals: Record<string, unknown> = {
      ':to': actionTo,
      ':at': change.at,
      ':from': 'pending_approval',
      ':h': approval.binding_hash,
    };
    if (actionPatch?.approval_metadata) {
      actionSets.push('approval_metadata = :m');
      actionVals[':m'] = actionPatch.approval_metadata;
    }
    if (actionPatch?.error) {
      actionSets.push('#error = :e');
      actionVals[':e'] = actionPatch.error;
    }
    if (INFLIGHT.includes(actionTo)) {
      actionSets.push('gsi2pk = :g2', 'gsi2sk = :g2s');
      actionVals[':g2'] = INFLIGHT_PK;
      actionVals[':g2s'] = inflightSk(change.at, approval.tenant_id, approval.action_id);
    }
    // One conditional write on the approval decides the race, together with the outbox items of
    // the events announcing the decision (moto's multi-item transactions are not isolated under
    // concurrency; the per-item lock above serialises this process's writes of one approval).
    const decided = await writeIf(
      this.update(
        {
          Key: approvalKey(approval.tenant_id, approval.approval_id),
          UpdateExpression: `SET ${approvalSets.join(', ')} REMOVE gsi2pk, gsi2sk`,
          ConditionExpression: approvalCond,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: approvalVals,
        },
        events,
        change.at,
      ),
    );
    if (!decided) return 'conflict';
    const moved = await writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: actionKey(approval.tenant_id, approval.action_id),
          UpdateExpression: `SET ${actionSets.join(', ')}`,
          ConditionExpression: '#status = :from AND binding_hash = :h',
          ExpressionAttributeNames: { '#status': 'status', ...(actionPatch?.error ? { '#error': 'error' } : {}) },
          ExpressionAttributeValues: actionVals,
        }),
      ),
    );
    return moved ? 'ok' : 'action_mismatch';
  }

  transition(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
    events: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    return itemLocks.run(`${this.table}|action|${tenantId}|${actionId}`, () =>
      this.transitionNow(tenantId, actionId, from, to, patch, events),
    );
  }

  claim(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
  ): Promise<ActionRecord | null> {
    return itemLocks.run(`${this.table}|action|${tenantId}|${actionId}`, async () => {
      try {
        const r = await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            ...this.transitionUpdate(tenantId, actionId, from, to, patch),
            ReturnValues: 'ALL_NEW',
          }),
        );
        return r.Attributes ? fromActionItem(r.Attributes) : null;
      } catch (e) {
        if (isConditionalCheckFailed(e)) return null;
        throw e;
      }
    });
  }

  private async transitionNow(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
    events: readonly OutboxEntry[],
  ): Promise<boolean> {
    return writeIf(this.update(this.transitionUpdate(tenantId, actionId, from, to, patch), events, patch.updated_at));
  }

  /** The conditional update that moves an action from one of `from` to `to` with `patch`. */
  private transitionUpdate(
    tenantId: string,
    actionId: string,
    from: readonly ActionStatus[],
    to: ActionStatus,
    patch: ActionPatch,
  ) {
    const sets = ['#status = :to', 'updated_at = :u'];
    const names: Record<string, string> = { '#status': 'status' };
    const vals: Record<string, unknown> = { ':to': to, ':u': patch.updated_at };
    from.forEach((f, i) => {
      vals[`:f${i}`] = f;
    });
    if (patch.result !== undefined) {
      sets.push('result_json = :r');
      vals[':r'] = resultJson(patch.result);
    }
    if (patch.error) {
      sets.push('#error = :e');
      vals[':e'] = patch.error;
      names['#error'] = 'error';
    }
    if (patch.approval_metadata) {
      sets.push('approval_metadata = :m');
      vals[':m'] = patch.approval_metadata;
    }
    if (patch.incrementAttempts) {
      sets.push('attempts = attempts + :one');
      vals[':one'] = 1;
    }
    // Keep in-flight actions on the recovery index (gsi2) and only those.
    const inflight = INFLIGHT.includes(to);
    if (inflight) {
      sets.push('gsi2pk = :g2', 'gsi2sk = :g2s');
      vals[':g2'] = INFLIGHT_PK;
      vals[':g2s'] = inflightSk(patch.updated_at, tenantId, actionId);
    }
    return {
      Key: actionKey(tenantId, actionId),
      UpdateExpression: `SET ${sets.join(', ')}${inflight ? '' : ' REMOVE gsi2pk, gsi2sk'}`,
      ConditionExpression: `attribute_exists(pk) AND #status IN (${from.map((_, i) => `:f${i}`).join(', ')})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: vals,
    };
  }

  async dueApprovals(nowIso: string, limit: number): Promise<{ tenant_id: string; approval_id: string }[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk <= :now',
        ExpressionAttributeValues: { ':p': PENDING_PK, ':now': `${nowIso}#~` },
        Limit: limit,
      }),
    );
    return (r.Items ?? [])
      .filter((it) => String(it.expires_at) <= nowIso)
      .map((it) => ({ tenant_id: String(it.tenant_id), approval_id: String(it.approval_id) }));
  }

  async inflightActions(olderThanIso: string, limit: number): Promise<{ tenant_id: string; action_id: string }[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
        ExpressionAttributeValues: { ':p': INFLIGHT_PK, ':before': olderThanIso },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map((it) => ({ tenant_id: String(it.tenant_id), action_id: String(it.action_id) }));
  }

  async agentActions(tenantId: string, agentId: string, statuses: readonly ActionStatus[]): Promise<ActionRecord[]> {
    const out: ActionRecord[] = [];
    const pages = queryPages(this.client, {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      FilterExpression: `#status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':p': `T#${tenantId}#AGENTACTIONS#${agentId}`,
        ...Object.fromEntries(statuses.map((s, i) => [`:s${i}`, s])),
      },
    });
    for await (const page of pages) {
      // gsi1 is eventually consistent: re-read each candidate before acting on it.
      for (const it of page) {
        const a = await this.getAction(tenantId, String(it.action_id));
        if (a && statuses.includes(a.status)) out.push(a);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- connector config

  /** Read through a process-wide cache of {@link CONFIG_CACHE_MS}; `putConfig` here drops it at once. */
  getConfig(tenantId: string, connector: string): Promise<Record<string, unknown> | null> {
    return configCache
      .get(`${this.table}|${tenantId}|${connector}`, () => this.readConfig(tenantId, connector))
      .then((c) => (c ? structuredClone(c) : null));
  }

  private async readConfig(tenantId: string, connector: string): Promise<Record<string, unknown> | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#CONNECTOR#${connector}`, sk: 'CONFIG' },
        ConsistentRead: true,
      }),
    );
    return r.Item ? (JSON.parse(String(r.Item.config_json)) as Record<string, unknown>) : null;
  }

  async putConfig(tenantId: string, connector: string, config: Record<string, unknown>, at: string): Promise<void> {
    const key = `${this.table}|${tenantId}|${connector}`;
    configCache.delete(key);
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: `T#${tenantId}#CONNECTOR#${connector}`,
          sk: 'CONFIG',
          tenant_id: tenantId,
          connector,
          config_json: JSON.stringify(config),
          updated_at: at,
        },
      }),
    );
    configCache.delete(key);
  }

  // ---------------------------------------------------------------- replay guard

  useOnce(key: string, expiresAt: Date): Promise<boolean> {
    return itemLocks.run(`${this.table}|replay|${key}`, () => this.useOnceNow(key, expiresAt));
  }

  private useOnceNow(key: string, expiresAt: Date): Promise<boolean> {
    return writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `REPLAY#${key}`, sk: 'ONCE', expires_at_epoch: epochSeconds(expiresAt) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  // ---------------------------------------------------------------- Slack approvers (F10)

  async getSlackApprover(tenantId: string, slackUserId: string): Promise<SlackApproverMapping | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#SLACKAPPROVER#${slackUserId}`, sk: 'MAPPING' },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return null;
    const { pk: _p, sk: _s, ...m } = r.Item;
    return m as SlackApproverMapping;
  }

  async putSlackApprover(m: SlackApproverMapping): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `T#${m.tenant_id}#SLACKAPPROVER#${m.slack_user_id}`, sk: 'MAPPING', ...m },
      }),
    );
  }

  // ---------------------------------------------------------------- e-mail links as sent (F4)

  async putEmailLinks(links: readonly EmailLinkRecord[]): Promise<void> {
    for (const l of links) {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `T#${l.tenant_id}#EMAILLINK#${l.nonce}`, sk: 'LINK', ...l, expires_at_epoch: l.exp + 86400 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    }
  }

  async getEmailLink(tenantId: string, nonce: string): Promise<EmailLinkRecord | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#EMAILLINK#${nonce}`, sk: 'LINK' },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return null;
    const { pk: _p, sk: _s, expires_at_epoch: _e, ...l } = r.Item;
    return l as EmailLinkRecord;
  }
}
