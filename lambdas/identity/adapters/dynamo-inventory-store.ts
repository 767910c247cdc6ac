import { TransactWriteCommand, GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionalCheckFailed } from '../../shared/aws.js';
import { ConflictError, ValidationError } from '../../shared/errors.js';
import { outboxItem, type Outbox, type OutboxEntry } from '../../shared/outbox.js';
import type {
  AgentFilter,
  AgentRecord,
  AgentStatus,
  ExtraPut,
  InventoryChange,
  InventoryStore,
  Page,
} from '../../shared/ports.js';

/** Applies a filter in memory (the store pre-filters by tenant; this keeps semantics in one place). */
export function matchesFilter(r: AgentRecord, f: AgentFilter): boolean {
  return (
    (!f.platform || r.platform === f.platform) &&
    (!f.status || r.status === f.status) &&
    (!f.owner || r.owner.oidc_sub === f.owner || r.owner.email === f.owner) &&
    (!f.cohort || r.cohort === f.cohort)
  );
}

const agentPk = (t: string, a: string) => `T#${t}#A#${a}`;
const versionSk = (v: number) => `V#${String(v).padStart(9, '0')}`;
const nativePk = (t: string, platform: string, native: string) => `T#${t}#NATIVE#${platform}#${native}`;

type Item = AgentRecord & { pk: string; sk: string; gsi1pk?: string; gsi1sk?: string };

function toRecord(it: Record<string, unknown>): AgentRecord {
  const { pk: _pk, sk: _sk, gsi1pk: _g, gsi1sk: _s, ...rest } = it as unknown as Item;
  return rest as AgentRecord;
}

function changeEntry(change: InventoryChange): OutboxEntry {
  return { detailType: 'inventory.change', detail: { ...change } };
}

/**
 * DynamoDB inventory (SCD type 2). Keys: `T#<tenant>#A#<agent>` with sk `CURRENT` (listed via
 * gsi1 = `T#<tenant>` / agent id) and one `V#<version>` item per version; a `NATIVE` item keeps
 * (platform, platform_native_id) unique per tenant. Each write commits its `inventory.change`
 * event to the outbox in the same transaction and then flushes it to the bus.
 */
export class DynamoInventoryStore implements InventoryStore {
  constructor(
    private readonly table: string,
    private readonly controlTable: string,
    private readonly outbox: Outbox,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async create(record: AgentRecord, change: InventoryChange, extra: readonly ExtraPut[] = []): Promise<void> {
    const pk = agentPk(record.tenant_id, record.agent_id);
    const entry = changeEntry(change);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...record, pk, sk: 'CURRENT', gsi1pk: `T#${record.tenant_id}`, gsi1sk: record.agent_id },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...record, pk, sk: versionSk(record.version) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: {
                  pk: nativePk(record.tenant_id, record.platform, record.platform_native_id),
                  sk: 'NATIVE',
                  agent_id: record.agent_id,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.controlTable, Item: outboxItem(entry, change.at) } },
            ...extra.map((x) => ({
              Put: { TableName: x.table, Item: x.item, ...(x.condition ? { ConditionExpression: x.condition } : {}) },
            })),
          ],
        }),
      );
    } catch (e) {
      if (isConditionalCheckFailed(e)) {
        throw new ConflictError(
          `an agent with platform "${record.platform}" and this platform_native_id is already registered`,
        );
      }
      throw e;
    }
    await this.outbox.flush([entry]);
  }

  async get(tenantId: string, agentId: string): Promise<AgentRecord | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: agentPk(tenantId, agentId), sk: 'CURRENT' },
        ConsistentRead: true,
      }),
    );
    return r.Item ? toRecord(r.Item) : null;
  }

  async update(
    current: AgentRecord,
    patch: Partial<
      Pick<AgentRecord, 'status' | 'owner' | 'cohort' | 'name' | 'last_rotated_at' | 'credential_generation'>
    >,
    meta: { at: string; actor: string; reason: string; change: InventoryChange },
    options: { requireStatusIn?: readonly AgentStatus[]; extra?: readonly ExtraPut[] } = {},
  ): Promise<AgentRecord> {
    const pk = agentPk(current.tenant_id, current.agent_id);
    const next: AgentRecord = {
      ...current,
      ...patch,
      version: current.version + 1,
      valid_from: meta.at,
      changed_by: meta.actor,
      change_reason: meta.reason,
    };
    delete (next as { valid_to?: string }).valid_to;
    const entry = changeEntry({ ...meta.change, version: next.version, status: next.status });
    const statusCond = options.requireStatusIn?.length
      ? ` AND #status IN (${options.requireStatusIn.map((_, i) => `:s${i}`).join(', ')})`
      : '';
    const statusVals = Object.fromEntries((options.requireStatusIn ?? []).map((s, i) => [`:s${i}`, s]));
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...next, pk, sk: 'CURRENT', gsi1pk: `T#${next.tenant_id}`, gsi1sk: next.agent_id },
                ConditionExpression: `#version = :v${statusCond}`,
                ExpressionAttributeNames: { '#version': 'version', ...(statusCond ? { '#status': 'status' } : {}) },
                ExpressionAttributeValues: { ':v': current.version, ...statusVals },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: { pk, sk: versionSk(current.version) },
                UpdateExpression: 'SET valid_to = :at',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':at': meta.at },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...next, pk, sk: versionSk(next.version) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.controlTable, Item: outboxItem(entry, meta.at) } },
            ...(options.extra ?? []).map((x) => ({
              Put: { TableName: x.table, Item: x.item, ...(x.condition ? { ConditionExpression: x.condition } : {}) },
            })),
          ],
        }),
      );
    } catch (e) {
      if (isConditionalCheckFailed(e)) {
        throw new ConflictError(`agent ${current.agent_id} changed concurrently or is not in an allowed status`);
      }
      throw e;
    }
    await this.outbox.flush([entry]);
    return next;
  }

  async list(tenantId: string, filter: AgentFilter, limit: number, nextToken?: string): Promise<Page<AgentRecord>> {
    let startKey = nextToken ? decodeToken(nextToken, tenantId) : undefined;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':t': `T#${tenantId}` };
    const conds: string[] = [];
    if (filter.platform) {
      names['#platform'] = 'platform';
      values[':platform'] = filter.platform;
      conds.push('#platform = :platform');
    }
    if (filter.status) {
      names['#status'] = 'status';
      values[':status'] = filter.status;
      conds.push('#status = :status');
    }
    if (filter.cohort) {
      names['#cohort'] = 'cohort';
      values[':cohort'] = filter.cohort;
      conds.push('#cohort = :cohort');
    }
    if (filter.owner) {
      values[':owner'] = filter.owner;
      conds.push('(#owner.oidc_sub = :owner OR #owner.email = :owner)');
      names['#owner'] = 'owner';
    }
    const items: AgentRecord[] = [];
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :t',
          ...(conds.length ? { FilterExpression: conds.join(' AND '), ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
          Limit: limit - items.length,
        }),
      );
      for (const it of r.Items ?? []) {
        const rec = toRecord(it);
        if (matchesFilter(rec, filter)) items.push(rec);
      }
      startKey = r.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return { items, ...(startKey ? { next_token: encodeToken(startKey) } : {}) };
  }

  async history(tenantId: string, agentId: string): Promise<AgentRecord[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :v)',
        ExpressionAttributeValues: { ':p': agentPk(tenantId, agentId), ':v': 'V#' },
        ConsistentRead: true,
      }),
    );
    return (r.Items ?? []).map(toRecord);
  }
}

function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Pagination tokens are bound to the caller's tenant: a token from another tenant is refused. */
function decodeToken(token: string, tenantId: string): Record<string, unknown> {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    const keys = Object.keys(key).sort().join(',');
    if (
      keys !== 'gsi1pk,gsi1sk,pk,sk' ||
      key.gsi1pk !== `T#${tenantId}` ||
      typeof key.pk !== 'string' ||
      !key.pk.startsWith(`T#${tenantId}#A#`)
    ) {
      throw new Error('foreign');
    }
    return key;
  } catch {
    throw new ValidationError('invalid next_token', [{ path: 'next_token', message: 'not a token this API issued' }]);
  }
}
