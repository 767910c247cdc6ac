import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll, queryPage, writeIf, type PageKeys } from '../../shared/dynamo.js';
import { ConflictError } from '../../shared/errors.js';
import { outboxItem, type Outbox, type OutboxEntry } from '../../shared/outbox.js';
import type { Page } from '../../shared/ports.js';
import { matchesDiscovered, type DiscoveredAgent, type DiscoveredFilter } from '../core/discovered.js';
import type { DiscoveryChange, DiscoveryControl, DiscoveryStore, ScanRecord, SourceStatus } from '../core/service.js';
import type { SourceConfig } from '../core/sources.js';

const recPk = (t: string, id: string) => `T#${t}#D#${id}`;
const listPk = (t: string) => `T#${t}#DISC`;
const versionSk = (v: number) => `V#${String(v).padStart(9, '0')}`;
const principalPk = (t: string, arn: string) => `T#${t}#DPRIN#${arn}`;
/** The identity store's uniqueness item for (platform, native id): present when registered. */
const nativePk = (t: string, platform: string, native: string) => `T#${t}#NATIVE#${platform}#${native}`;
/** A listing token is a key of the tenant's discovered index (gsi1 `T#<t>#DISC`), on one of its records. */
const listKeys = (t: string): PageKeys => ({
  attributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'],
  equal: { gsi1pk: listPk(t) },
  prefix: { pk: `T#${t}#D#` },
});

const INTERNAL = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'rev'] as const;
function toAgent(it: Record<string, unknown>): DiscoveredAgent {
  const out = { ...it };
  for (const k of INTERNAL) delete out[k];
  return out as unknown as DiscoveredAgent;
}

/**
 * Discovered agents in the inventory table (SCD type 2, like registered agents but under their
 * own keys so identity never mistakes one for an ARX identity): `T#<t>#D#<id>` with sk `CURRENT`
 * (listed through gsi1 `T#<t>#DISC`) and one `V#<version>` per version; `T#<t>#DPRIN#<role arn>`
 * maps a principal to its agent. Material changes commit their `inventory.change` to the outbox
 * in the same transaction; activity (last_seen, counters) updates the current version in place,
 * guarded by a write counter `rev`.
 */
export class DynamoDiscoveryStore implements DiscoveryStore {
  /** Write counter of each record this instance read, for optimistic concurrency. */
  private readonly revs = new WeakMap<DiscoveredAgent, number>();

  constructor(
    private readonly table: string,
    private readonly controlTable: string,
    private readonly outbox: Outbox | null,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async get(tenantId: string, id: string): Promise<DiscoveredAgent | null> {
    if (!/^dag_[0-9a-f]{26}$/.test(id)) return null;
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: recPk(tenantId, id), sk: 'CURRENT' }, ConsistentRead: true }),
    );
    if (!r.Item) return null;
    const a = toAgent(r.Item);
    this.revs.set(a, Number(r.Item.rev ?? 0));
    return a;
  }

  async save(prev: DiscoveredAgent | null, next: DiscoveredAgent, change: DiscoveryChange | null): Promise<void> {
    if (!this.outbox) throw new Error('this DynamoDiscoveryStore is read-only');
    const pk = recPk(next.tenant_id, next.id);
    const rev = prev ? (this.revs.get(prev) ?? -1) : 0;
    const current = { ...next, pk, sk: 'CURRENT', gsi1pk: listPk(next.tenant_id), gsi1sk: next.id, rev: rev + 1 };
    const version = { ...next, pk, sk: versionSk(next.version) };
    const principals = (change ? next.principal_arns : []).map((arn) => ({
      Put: { TableName: this.table, Item: { pk: principalPk(next.tenant_id, arn), sk: 'DPRIN', id: next.id } },
    }));
    const entry: OutboxEntry | null = change ? { detailType: 'inventory.change', detail: { ...change } } : null;
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    if (!prev) {
      if (!change) throw new Error('a new record needs its change event');
      items.push({ Put: { TableName: this.table, Item: current, ConditionExpression: 'attribute_not_exists(pk)' } });
      items.push({ Put: { TableName: this.table, Item: version } });
    } else {
      items.push({
        Put: {
          TableName: this.table,
          Item: current,
          ConditionExpression: '#rev = :rev AND #version = :v',
          ExpressionAttributeNames: { '#rev': 'rev', '#version': 'version' },
          ExpressionAttributeValues: { ':rev': rev, ':v': prev.version },
        },
      });
      if (change) {
        items.push({
          Update: {
            TableName: this.table,
            Key: { pk, sk: versionSk(prev.version) },
            UpdateExpression: 'SET valid_to = :at',
            ExpressionAttributeValues: { ':at': next.valid_from },
          },
        });
        items.push({ Put: { TableName: this.table, Item: version, ConditionExpression: 'attribute_not_exists(pk)' } });
      } else {
        items.push({ Put: { TableName: this.table, Item: version } });
      }
    }
    items.push(...principals);
    if (entry) items.push({ Put: { TableName: this.controlTable, Item: outboxItem(entry, change!.at) } });
    if (!(await writeIf(this.client.send(new TransactWriteCommand({ TransactItems: items })))))
      throw new ConflictError(`discovered agent ${next.id} changed concurrently`);
    this.revs.set(next, rev + 1);
    if (entry) await this.outbox.flush([entry]);
  }

  async history(tenantId: string, id: string): Promise<DiscoveredAgent[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':p': recPk(tenantId, id), ':v': 'V#' },
      ConsistentRead: true,
    });
    return items.map(toAgent);
  }

  async list(
    tenantId: string,
    filter: DiscoveredFilter,
    limit: number,
    nextToken?: string,
  ): Promise<Page<DiscoveredAgent>> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':t': listPk(tenantId) };
    const conds: string[] = [];
    if (filter.platform) {
      names['#platform'] = 'platform';
      values[':platform'] = filter.platform;
      conds.push('#platform = :platform');
    }
    if (filter.sanctioned !== undefined) {
      names['#sanctioned'] = 'sanctioned';
      values[':sanctioned'] = filter.sanctioned;
      conds.push('#sanctioned = :sanctioned');
    }
    // Some filters (q, source) are applied in memory: read in batches of 100 so a sparse match is cheap.
    const page = await queryPage(
      this.client,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :t',
        ...(conds.length ? { FilterExpression: conds.join(' AND '), ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
      },
      {
        limit,
        token: nextToken,
        keys: listKeys(tenantId),
        keep: (it) => matchesDiscovered(toAgent(it), filter),
        pageSize: 100,
      },
    );
    return { ...page, items: page.items.map(toAgent) };
  }

  async registeredAgentId(tenantId: string, platform: string, nativeId: string): Promise<string | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: nativePk(tenantId, platform, nativeId), sk: 'NATIVE' },
        ConsistentRead: true,
      }),
    );
    return typeof r.Item?.agent_id === 'string' ? r.Item.agent_id : null;
  }

  async findByPrincipal(tenantId: string, principalArn: string): Promise<string | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: principalPk(tenantId, principalArn), sk: 'DPRIN' },
        ConsistentRead: true,
      }),
    );
    return typeof r.Item?.id === 'string' ? r.Item.id : null;
  }
}

const srcPk = (t: string) => `T#${t}#DSRC`;
const ALL_SOURCES = 'DISC#ALLSRC';
const acctPk = (a: string) => `DISC#ACCT#${a}`;
const scanPk = (t: string) => `T#${t}#DSCAN`;
const statusPk = (t: string) => `T#${t}#DSTATUS`;
const strip = <T>(it: Record<string, unknown> | undefined): T | null => {
  if (!it) return null;
  const { pk: _p, sk: _s, ...rest } = it;
  return rest as T;
};

/** Sources, scans and per-source freshness in the control table. */
export class DynamoDiscoveryControl implements DiscoveryControl {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async putSource(s: SourceConfig): Promise<void> {
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: { ...s, pk: srcPk(s.tenant_id), sk: s.source_id },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          { Put: { TableName: this.table, Item: { ...s, pk: ALL_SOURCES, sk: s.source_id } } },
          ...(s.account_id
            ? [
                {
                  Put: {
                    TableName: this.table,
                    Item: { ...s, pk: acctPk(s.account_id), sk: `T#${s.tenant_id}#S#${s.source_id}` },
                  },
                },
              ]
            : []),
        ],
      }),
    );
  }

  async getSource(tenantId: string, sourceId: string): Promise<SourceConfig | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: srcPk(tenantId), sk: sourceId }, ConsistentRead: true }),
    );
    return strip<SourceConfig>(r.Item);
  }

  /** A source by id alone (the per-source ingest route authenticates with the source's token). */
  async findSource(sourceId: string): Promise<SourceConfig | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: ALL_SOURCES, sk: sourceId }, ConsistentRead: true }),
    );
    return strip<SourceConfig>(r.Item);
  }

  private async partition<T>(pk: string): Promise<T[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': pk },
      ConsistentRead: true,
    });
    return items.map((it) => strip<T>(it)!);
  }

  listSources(tenantId: string): Promise<SourceConfig[]> {
    return this.partition<SourceConfig>(srcPk(tenantId));
  }

  sourcesForAccount(accountId: string): Promise<SourceConfig[]> {
    return this.partition<SourceConfig>(acctPk(accountId));
  }

  async allScannableSources(): Promise<SourceConfig[]> {
    return (await this.partition<SourceConfig>(ALL_SOURCES)).filter((s) => s.type === 'aws_account');
  }

  async putScan(s: ScanRecord, events: readonly OutboxEntry[] = []): Promise<void> {
    const Item = { ...s, pk: scanPk(s.tenant_id), sk: s.scan_id };
    if (!events.length) {
      await this.client.send(new PutCommand({ TableName: this.table, Item }));
      return;
    }
    const at = s.requested_at;
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item } },
          ...events.map((e) => ({ Put: { TableName: this.table, Item: outboxItem(e, at) } })),
        ],
      }),
    );
  }

  async getScan(tenantId: string, scanId: string): Promise<ScanRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: scanPk(tenantId), sk: scanId }, ConsistentRead: true }),
    );
    return strip<ScanRecord>(r.Item);
  }

  async recordStatus(
    tenantId: string,
    key: string,
    o: { at: string; ok: boolean; errors?: string[]; eventLagMs?: number },
  ): Promise<void> {
    const sets = ['last_attempt_at = :at', 'errors = :e'];
    const values: Record<string, unknown> = { ':at': o.at, ':e': (o.errors ?? []).slice(0, 20) };
    if (o.ok) sets.push('last_success_at = :at');
    let add = '';
    if (o.eventLagMs !== undefined) {
      sets.push('last_event_at = :at', 'last_event_lag_ms = :lag');
      values[':lag'] = o.eventLagMs;
      values[':one'] = 1;
      add = ' ADD events_total :one';
    }
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: statusPk(tenantId), sk: key },
        UpdateExpression: `SET ${sets.join(', ')}${add}`,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async listStatus(tenantId: string): Promise<SourceStatus[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': statusPk(tenantId) },
      ConsistentRead: true,
    });
    return items.map(({ pk: _p, sk, ...rest }) => ({ ...rest, key: String(sk) }) as SourceStatus);
  }
}
