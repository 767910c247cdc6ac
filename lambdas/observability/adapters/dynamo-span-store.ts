import {
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { type Item, type Query, queryPages } from '../../shared/dynamo.js';
import { epochSeconds } from '../../shared/clock.js';
import { TtlCache } from '../../shared/ttl-cache.js';
import type { PriceTable } from '../core/cost.js';
import { HOT_RETENTION_DAYS, type ActionLink, type Budget, type SpanRecord, type SpanStore } from '../core/model.js';

/**
 * The hot span store on the traces table (pk/sk, gsi1, gsi2, TTL `expires_at_epoch`):
 * - span    `T#<t>#TRACE#<trace>` / `SPAN#<span>`; gsi1 `T#<t>#AGENT#<agent>` / `<start>#<trace>#<span>`;
 *           gsi2 `T#<t>#DAY#<yyyy-mm-dd>` / `<start>#<trace>#<span>` (search, roll-ups, price recompute)
 * - link    `T#<t>#TRACE#<trace>` / `ARX#<action>`: the governed action's events, for the join
 * - prices  `T#<t>#USAGE` / `PRICES`; budgets `T#<t>#USAGE` / `BUDGET#<scope>#<id>#<period>`
 * A whole trace is one partition: GET /v1/traces/{id} is one Query, never a scan.
 */
/**
 * How long the decision path reuses a tenant's budget list and price table (`cachedBudgets`,
 * `cachedPrices`): a change made through this process applies at once, one made by another
 * function instance within this window. Spend itself is never cached: reservations are
 * conditional writes on the counters.
 */
export const USAGE_CONFIG_CACHE_MS = 5_000;
const budgetCache = new TtlCache<Budget[]>(USAGE_CONFIG_CACHE_MS);
const priceCache = new TtlCache<(PriceTable & { updated_at: string }) | null>(USAGE_CONFIG_CACHE_MS);

export class DynamoSpanStore implements SpanStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
    private readonly now: () => Date = () => new Date(),
  ) {}

  private item(r: SpanRecord): Record<string, unknown> {
    const sk = `${r.start_time}#${r.trace_id}#${r.span_id}`;
    // Built in place (no spread temporaries): this runs once per ingested span.
    const item: Record<string, unknown> = { pk: tracePk(r.tenant_id, r.trace_id), sk: `SPAN#${r.span_id}` };
    if (r.agent_id) {
      item.gsi1pk = `T#${r.tenant_id}#AGENT#${r.agent_id}`;
      item.gsi1sk = sk;
      item.agent_id = r.agent_id;
    }
    item.gsi2pk = `T#${r.tenant_id}#DAY#${r.start_time.slice(0, 10)}`;
    item.gsi2sk = sk;
    if (r.cost_usd !== null) item.cost_usd = r.cost_usd;
    item.doc = JSON.stringify(r);
    // From ingestion, so a recomputed (rewritten) span keeps its original expiry.
    item.expires_at_epoch = this.expiryOf(r.ingested_at);
    return item;
  }

  /** A batch's records share one ingestion time: its expiry is computed once. */
  private lastIngested = '';
  private lastExpiry = 0;
  private expiryOf(ingestedAt: string): number {
    if (ingestedAt !== this.lastIngested || !ingestedAt) {
      this.lastIngested = ingestedAt;
      this.lastExpiry =
        epochSeconds(new Date(Date.parse(ingestedAt) || this.now().getTime())) + HOT_RETENTION_DAYS * 86_400;
    }
    return this.lastExpiry;
  }

  async putSpans(records: readonly SpanRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 25) {
      let items: Record<string, unknown>[] = records
        .slice(i, i + 25)
        .map((r) => ({ PutRequest: { Item: this.item(r) } }));
      for (let attempt = 0; items.length > 0; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB kept unprocessed span writes');
        const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.table]: items } }));
        items = (out.UnprocessedItems?.[this.table] ?? []) as Record<string, unknown>[];
        if (items.length) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      }
    }
  }

  /** Every item, or stops after the page that reaches `max` (a trace's links sort before its spans). */
  private async queryAll(input: Query, max = 100_000): Promise<Item[]> {
    const out: Item[] = [];
    for await (const page of queryPages(this.client, input)) {
      out.push(...page);
      if (out.length >= max) break;
    }
    return out;
  }

  async traceSpans(
    tenantId: string,
    traceId: string,
    limit = 10_000,
  ): Promise<{ spans: SpanRecord[]; links: ActionLink[]; truncated: boolean }> {
    const items = await this.queryAll(
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': tracePk(tenantId, traceId) },
      },
      limit + 1,
    );
    const spans: SpanRecord[] = [];
    const links: ActionLink[] = [];
    for (const it of items) {
      const sk = String(it.sk);
      if (sk.startsWith('SPAN#')) spans.push(JSON.parse(String(it.doc)) as SpanRecord);
      else if (sk.startsWith('ARX#')) links.push(linkOf(it));
    }
    return { spans: spans.slice(0, limit), links, truncated: spans.length > limit };
  }

  async spansByAgent(tenantId: string, agentId: string, fromIso: string, toIso: string): Promise<SpanRecord[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p AND gsi1sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':p': `T#${tenantId}#AGENT#${agentId}`, ':a': fromIso, ':b': `${toIso}~` },
    });
    return items.map((it) => JSON.parse(String(it.doc)) as SpanRecord);
  }

  async spansByDay(tenantId: string, day: string, fromIso = '', toIso = '~'): Promise<SpanRecord[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :p AND gsi2sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':p': `T#${tenantId}#DAY#${day}`, ':a': fromIso, ':b': `${toIso}~` },
    });
    return items.map((it) => JSON.parse(String(it.doc)) as SpanRecord);
  }

  /**
   * Adds one action event to the trace's link item in one update, each event its own attribute
   * `E#<type>#<at>` written only if absent (idempotent per event type + at); answers the link as it
   * was before (its earlier events), so the spans the event completes are built from them.
   */
  async appendLinkEvent(
    link: Omit<ActionLink, 'events'>,
    ev: ActionLink['events'][number],
  ): Promise<ActionLink | null> {
    const r = await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: tracePk(link.tenant_id, link.trace_id), sk: `ARX#${link.action_id}` },
        UpdateExpression: [
          'SET tenant_id = :t, trace_id = :tr, action_id = :a, agent_id = :ag, #ev = if_not_exists(#ev, :e)',
          link.approval_id ? 'approval_id = :ap' : 'approval_id = if_not_exists(approval_id, :ap)',
          'expires_at_epoch = :x',
        ].join(', '),
        ExpressionAttributeNames: { '#ev': `${EVENT_ATTR}${ev.type}#${ev.at}` },
        ExpressionAttributeValues: {
          ':t': link.tenant_id,
          ':tr': link.trace_id,
          ':a': link.action_id,
          ':ag': link.agent_id,
          ':ap': link.approval_id ?? null,
          ':e': JSON.stringify(ev),
          ':x': epochSeconds(this.now()) + HOT_RETENTION_DAYS * 86_400,
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return r.Attributes ? linkOf(r.Attributes) : null;
  }

  async getPrices(tenantId: string): Promise<(PriceTable & { updated_at: string }) | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: `T#${tenantId}#USAGE`, sk: 'PRICES' }, ConsistentRead: true }),
    );
    return r.Item ? (JSON.parse(String(r.Item.doc)) as PriceTable & { updated_at: string }) : null;
  }

  /** `getPrices` through the shared window (USAGE_CONFIG_CACHE_MS), for the decision path. */
  cachedPrices(tenantId: string): Promise<(PriceTable & { updated_at: string }) | null> {
    return priceCache.get(`${this.table}/${tenantId}`, () => this.getPrices(tenantId));
  }

  async putPrices(tenantId: string, table: PriceTable, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `T#${tenantId}#USAGE`, sk: 'PRICES', doc: JSON.stringify({ ...table, updated_at: at }) },
      }),
    );
    priceCache.delete(`${this.table}/${tenantId}`);
  }

  async putBudget(tenantId: string, b: Budget): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#USAGE`, sk: `BUDGET#${b.scope}#${b.id}#${b.period}` },
        UpdateExpression: 'SET doc = :d',
        ExpressionAttributeValues: { ':d': JSON.stringify(b) },
      }),
    );
    budgetCache.delete(`${this.table}/${tenantId}`);
  }

  async putExport(
    tenantId: string,
    cfg: { endpoint: string; protocol: string; headers_enc: unknown; header_names: string[]; updated_at: string },
  ): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `T#${tenantId}#USAGE`, sk: 'EXPORT', doc: JSON.stringify(cfg) },
      }),
    );
  }

  async getExport(tenantId: string) {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: `T#${tenantId}#USAGE`, sk: 'EXPORT' }, ConsistentRead: true }),
    );
    return r.Item
      ? (JSON.parse(String(r.Item.doc)) as {
          endpoint: string;
          protocol: string;
          headers_enc: unknown;
          header_names: string[];
          updated_at: string;
        })
      : null;
  }

  async listBudgets(tenantId: string): Promise<Budget[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': `T#${tenantId}#USAGE`, ':s': 'BUDGET#' },
    });
    return items.map((it) => JSON.parse(String(it.doc)) as Budget);
  }

  /** `listBudgets` through the shared window (USAGE_CONFIG_CACHE_MS), for the decision path. */
  cachedBudgets(tenantId: string): Promise<Budget[]> {
    return budgetCache.get(`${this.table}/${tenantId}`, () => this.listBudgets(tenantId));
  }
}

const tracePk = (t: string, trace: string) => `T#${t}#TRACE#${trace}`;
/** Prefix of a link item's per-event attributes. */
const EVENT_ATTR = 'E#';

/**
 * The link an item holds: its per-event attributes in time order, after the events of a `doc`
 * written before links were updated in place (read-modify-write of one JSON document).
 */
function linkOf(it: Item): ActionLink {
  const legacy = it.doc ? (JSON.parse(String(it.doc)) as ActionLink) : null;
  const events = Object.entries(it)
    .filter(([k]) => k.startsWith(EVENT_ATTR))
    .map(([, v]) => JSON.parse(String(v)) as ActionLink['events'][number])
    .filter((e) => !legacy?.events.some((l) => l.type === e.type && l.at === e.at))
    .sort((a, b) => a.at.localeCompare(b.at) || a.type.localeCompare(b.type));
  return {
    tenant_id: String(it.tenant_id ?? legacy?.tenant_id),
    trace_id: String(it.trace_id ?? legacy?.trace_id),
    action_id: String(it.action_id ?? legacy?.action_id),
    agent_id: String(it.agent_id ?? legacy?.agent_id),
    approval_id: (it.approval_id as string | null | undefined) ?? legacy?.approval_id ?? null,
    events: [...(legacy?.events ?? []), ...events],
  };
}
