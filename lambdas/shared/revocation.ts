import { PutCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from './aws.js';
import { queryAll } from './dynamo.js';
import type { Clock } from './clock.js';
import { REVOCATION_CACHE_MS, type RevocationEntry, type RevocationState, type RevocationStatus } from './ports.js';

export { REVOCATION_CACHE_MS };

/** 30 days: the floor for how long a revocation entry is kept (seed C6.2). */
export const REVOCATION_MIN_RETENTION_S = 30 * 24 * 3600;

/**
 * How far behind its high-water mark a delta reader re-reads (F2): entries of concurrent writers,
 * writers' clock skew and the eventually consistent `by-time` index all land within it.
 */
export const REVOCATION_OVERLAP_MS = 60_000;

/**
 * The distributed revocation list (DRL) on DynamoDB. Table keys: `tenant_id` (pk), `agent_id`
 * (sk); GSI `by-time` on (`tenant_id`, `seq`) for delta reads; TTL attribute `ttl_epoch`.
 * DynamoDB TTL deletes lazily, so readers also ignore entries past `ttl_until`.
 *
 * `seq` is `<write time>#<agent_id>`: the time the entry is written, not the caller's
 * `revoked_at` (a saga retry re-writing an old `revoked_at` still sorts as new). Readers must not
 * treat it as a gapless cursor: they re-read REVOCATION_OVERLAP_MS behind it (F2).
 */
export class DynamoRevocationList {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Writes (or refreshes) an entry. Idempotent per (tenant, agent); a rewrite sorts as new for delta readers. */
  async revoke(entry: RevocationEntry): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...entry,
          seq: `${this.now().toISOString()}#${entry.agent_id}`,
          ttl_epoch: Math.floor(Date.parse(entry.ttl_until) / 1000),
        },
      }),
    );
  }

  async get(tenantId: string, agentId: string, now: Date): Promise<RevocationEntry | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { tenant_id: tenantId, agent_id: agentId }, ConsistentRead: true }),
    );
    const item = r.Item as (RevocationEntry & { ttl_epoch: number }) | undefined;
    if (!item || Date.parse(item.ttl_until) <= now.getTime()) return null;
    return strip(item);
  }

  /**
   * Entries written after `cursor` (exclusive), in `seq` order; the returned `cursor` is the last
   * `seq` read. `cursor` may be a bare ISO time (everything written after it).
   */
  async deltasSince(
    tenantId: string,
    cursor: string | null,
    limit = 1000,
  ): Promise<{ entries: RevocationEntry[]; cursor: string | null }> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        IndexName: 'by-time',
        KeyConditionExpression: cursor ? 'tenant_id = :t AND seq > :c' : 'tenant_id = :t',
        ExpressionAttributeValues: cursor ? { ':t': tenantId, ':c': cursor } : { ':t': tenantId },
      },
      limit,
    );
    const last = items.at(-1) as { seq: string } | undefined;
    return { entries: items.map((it) => strip(it as unknown as RevocationEntry)), cursor: last ? last.seq : cursor };
  }
}

function strip(it: RevocationEntry): RevocationEntry {
  return {
    tenant_id: it.tenant_id,
    agent_id: it.agent_id,
    spiffe_id: it.spiffe_id,
    revoked_at: it.revoked_at,
    reason_code: it.reason_code,
    ttl_until: it.ttl_until,
  };
}

/**
 * A revocation checker with a bounded staleness window (REVOCATION_CACHE_MS), as every PDP uses.
 * When the window has passed and the table cannot be read it answers `unknown`, and callers fail closed.
 */
export class CachedRevocationChecker implements RevocationStatus {
  private readonly cache = new Map<string, { revoked: boolean; at: number }>();
  constructor(
    private readonly list: Pick<DynamoRevocationList, 'get'>,
    private readonly clock: Clock,
    private readonly windowMs = REVOCATION_CACHE_MS,
  ) {}

  async status(tenantId: string, agentId: string): Promise<RevocationState> {
    const key = `${tenantId}|${agentId}`;
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && now.getTime() - hit.at < this.windowMs) return hit.revoked ? 'revoked' : 'clear';
    try {
      const e = await this.list.get(tenantId, agentId, now);
      this.cache.set(key, { revoked: e !== null, at: now.getTime() });
      return e ? 'revoked' : 'clear';
    } catch {
      // A fresh hit was answered above; past the window nothing is known.
      return 'unknown';
    }
  }
}
