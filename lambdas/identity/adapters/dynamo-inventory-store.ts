import { TransactWriteCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll, queryPage, writeIf, type PageKeys } from '../../shared/dynamo.js';
import { ConflictError } from '../../shared/errors.js';
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
/** A listing token is a key of the tenant index (gsi1 `T#<tenant>`), on one of the tenant's agents. */
const listKeys = (t: string): PageKeys => ({
  attributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'],
  equal: { gsi1pk: `T#${t}` },
  prefix: { pk: `T#${t}#A#` },
});

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
    const written = await writeIf(
      this.client.send(
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
      ),
    );
    if (!written)
      throw new ConflictError(
        `an agent with platform "${record.platform}" and this platform_native_id is already registered`,
      );
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
    const written = await writeIf(
      this.client.send(
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
      ),
    );
    if (!written)
      throw new ConflictError(`agent ${current.agent_id} changed concurrently or is not in an allowed status`);
    await this.outbox.flush([entry]);
    return next;
  }

  async list(tenantId: string, filter: AgentFilter, limit: number, nextToken?: string): Promise<Page<AgentRecord>> {
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
    const page = await queryPage(
      this.client,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :t',
        ...(conds.length ? { FilterExpression: conds.join(' AND '), ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
      },
      { limit, token: nextToken, keys: listKeys(tenantId), keep: (it) => matchesFilter(toRecord(it), filter) },
    );
    return { ...page, items: page.items.map(toRecord) };
  }

  async history(tenantId: string, agentId: string): Promise<AgentRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':p': agentPk(tenantId, agentId), ':v': 'V#' },
      ConsistentRead: true,
    });
    return items.map(toRecord);
  }
}
