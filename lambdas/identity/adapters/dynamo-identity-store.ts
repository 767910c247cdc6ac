import type { CredentialBindingRecord } from '../core/broker.js';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryAll, writeIf } from '../../shared/dynamo.js';
import type { ExtraPut } from '../../shared/ports.js';
import type { OutboxEntry } from '../../shared/events.js';
import { outboxItem } from '../../shared/outbox.js';
import type { KeyStore, TenantKey } from '../core/keys.js';
import type { AgentCredentialState } from '../core/verify.js';
import type { RefreshTokenLookup, RefreshTokenRecord, RefreshTokenStore } from '../core/token-exchange.js';

/*
 * Identity items in the control table:
 *   T#<t>#KEYS        ACTIVE            {kid}                     pointer to the active signing key
 *   T#<t>#KEYS        KEY#<kid>         TenantKey                 every key the tenant ever had
 *   T#<t>#AGENT#<a>   CRED              {generation, status}      what verifiers compare SVIDs with
 *   BOOT#<sha256>     BOOT              hashed bootstrap token    (written at registration/rotation)
 *   RT#<sha256>       RT                hashed refresh token      (bootstrap exchange, each refresh; kept spent for
 *                                                                  the reuse window); gsi1 RTFAM#<family> / <created_at>#<sha256>
 *   RTFAM#<family>    RTFAM             {revoked}                 a refresh token family (one bootstrap exchange);
 *                                                                  gsi1 T#<t>#RTAGENT#<a> / <created_at>#<family>
 *   T#<t>#ORPHAN      <agent_id>        orphan marker; gsi1 IDENTITY#ORPHAN / <orphaned_at>#<t>#<a> until swept
 *   T#<t>#CREDBIND#<a> <target>#<hash>  CredentialBinding (no secret, ever)
 */
const keysPk = (t: string) => `T#${t}#KEYS`;
const statePk = (t: string, a: string) => `T#${t}#AGENT#${a}`;
export const ORPHAN_GSI_PK = 'IDENTITY#ORPHAN';

type Item = Record<string, unknown>;

function toKey(it: Item): TenantKey {
  const { pk: _p, sk: _s, ...rest } = it;
  return rest as unknown as TenantKey;
}

export interface KeyStoreLayout {
  /** Partition of a tenant's key items. @default `T#<tenant>#KEYS` */
  readonly partition?: (tenantId: string) => string;
  /**
   * A rotated-out key keeps its place in the published set for good (no `retire_after`): audit
   * keys, so every block ever sealed verifies. @default false (retired keys leave after a grace period)
   */
  readonly keepRetired?: boolean;
}

/**
 * Tenant key registry (KeyStore port): `ACTIVE` → kid, and one `KEY#<kid>` item per key ever used.
 * Nothing here deletes a key item; a rotation moves the pointer and marks the old key retired.
 * Identity's SVID keys and audit's block keys are two layouts of it.
 */
export class DynamoKeyStore implements KeyStore {
  private readonly pkOf: (tenantId: string) => string;
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
    private readonly layout: KeyStoreLayout = {},
  ) {
    this.pkOf = layout.partition ?? keysPk;
  }

  async load(tenantId: string): Promise<{ activeKid: string | null; keys: TenantKey[] }> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': this.pkOf(tenantId) },
      ConsistentRead: true,
    });
    const pointer = items.find((i) => i.sk === 'ACTIVE');
    return {
      activeKid: pointer ? String(pointer.kid) : null,
      keys: items.filter((i) => String(i.sk).startsWith('KEY#')).map(toKey),
    };
  }

  initialize(key: TenantKey): Promise<boolean> {
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk: this.pkOf(key.tenant_id), sk: 'ACTIVE', kid: key.kid, updated_at: key.created_at },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.table, Item: { ...key, pk: this.pkOf(key.tenant_id), sk: `KEY#${key.kid}` } } },
          ],
        }),
      ),
    );
  }

  async rotate(next: TenantKey, previousKid: string, retiredAt: string, retireAfter: string): Promise<boolean> {
    const pk = this.pkOf(next.tenant_id);
    const retire = this.layout.keepRetired
      ? { set: 'SET #s = :retired, retired_at = :at', values: { ':retired': 'retired', ':at': retiredAt } }
      : {
          set: 'SET #s = :retired, retired_at = :at, retire_after = :ra',
          values: { ':retired': 'retired', ':at': retiredAt, ':ra': retireAfter },
        };
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk, sk: 'ACTIVE', kid: next.kid, updated_at: retiredAt },
                ConditionExpression: 'kid = :prev',
                ExpressionAttributeValues: { ':prev': previousKid },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...next, pk, sk: `KEY#${next.kid}` },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: { pk, sk: `KEY#${previousKid}` },
                UpdateExpression: retire.set,
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: retire.values,
              },
            },
          ],
        }),
      ),
    );
  }
}

/** Control-table item a status/generation change writes in the same transaction as the inventory. */
export function agentStatePut(
  table: string,
  tenantId: string,
  agentId: string,
  state: AgentCredentialState,
  at: string,
): ExtraPut {
  return {
    table,
    item: {
      pk: statePk(tenantId, agentId),
      sk: 'CRED',
      tenant_id: tenantId,
      agent_id: agentId,
      ...state,
      updated_at: at,
    },
  };
}

/** Reads the agent credential state verifiers compare SVIDs with. */
export class DynamoAgentStateStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async get(tenantId: string, agentId: string): Promise<AgentCredentialState | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: statePk(tenantId, agentId), sk: 'CRED' },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return null;
    return { generation: Number(r.Item.generation), status: r.Item.status as AgentCredentialState['status'] };
  }
}

export interface BootstrapRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly generation: number;
  readonly used: boolean;
  readonly expires_at: string;
}

/** Hashed one-time bootstrap tokens (items written by registration and rotation). */
export class DynamoBootstrapStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async find(tokenHash: string): Promise<BootstrapRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: `BOOT#${tokenHash}`, sk: 'BOOT' }, ConsistentRead: true }),
    );
    if (!r.Item) return null;
    return {
      tenant_id: String(r.Item.tenant_id),
      agent_id: String(r.Item.agent_id),
      generation: Number(r.Item.generation),
      used: r.Item.used === true,
      expires_at: String(r.Item.expires_at),
    };
  }

  /**
   * Marks the token used; false when it was already used or expired (single use, race-safe).
   * `also` (the first refresh token) and the outbox items of `events` (the issuance's audit event)
   * are written in the same transaction, or not at all.
   */
  consume(
    tokenHash: string,
    now: Date,
    also: readonly ExtraPut[] = [],
    events: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const update = {
      TableName: this.table,
      Key: { pk: `BOOT#${tokenHash}`, sk: 'BOOT' },
      UpdateExpression: 'SET used = :t, used_at = :now',
      ConditionExpression: 'attribute_exists(pk) AND used = :f AND expires_at > :now',
      ExpressionAttributeValues: { ':t': true, ':f': false, ':now': now.toISOString() },
    };
    if (also.length === 0 && events.length === 0) return writeIf(this.client.send(new UpdateCommand(update)));
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            ...also.map((p) => ({
              Put: {
                TableName: p.table,
                Item: p.item,
                ...(p.condition ? { ConditionExpression: p.condition } : {}),
              },
            })),
            ...events.map((e) => ({ Put: { TableName: this.table, Item: outboxItem(e, now.toISOString()) } })),
          ],
        }),
      ),
    );
  }
}

const rtKey = (hash: string) => ({ pk: `RT#${hash}`, sk: 'RT' });
const familyKey = (family: string) => ({ pk: `RTFAM#${family}`, sk: 'RTFAM' });
/** gsi1 partition of a family's tokens, and of an agent's families (so both can be deleted). */
const familyTokensPk = (family: string) => `RTFAM#${family}`;
const agentFamiliesPk = (t: string, a: string) => `T#${t}#RTAGENT#${a}`;
const epochOf = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** How long a spent refresh token is kept to recognise its reuse, by default (1 day). */
export const SPENT_REFRESH_RETENTION_S_DEFAULT = 86_400;

export interface RefreshTokenStoreOptions {
  /**
   * Seconds a spent token is kept after its rotation so that presenting it again is recognised as
   * reuse (and revokes the family); after that DynamoDB's TTL deletes it and it is merely unknown.
   * Never beyond the family's deadline. @default {@link SPENT_REFRESH_RETENTION_S_DEFAULT}
   */
  readonly spentRetentionS?: number;
}

/**
 * Refresh tokens (RefreshTokenStore port). Each token is one item keyed by its SHA-256; a spent
 * token stays (used = true) for `spentRetentionS` (TTL) so that a replay is recognised. The family
 * item carries the revocation; the TTL of both is the family's absolute deadline. A revoked family is
 * deleted with its tokens, and so is every family of an agent whose credentials are revoked
 * ({@link revokeAgent}): both are found through gsi1 (tokens by family, families by agent).
 */
export class DynamoRefreshTokenStore implements RefreshTokenStore {
  private readonly spentRetentionS: number;
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
    opts: RefreshTokenStoreOptions = {},
  ) {
    this.spentRetentionS = opts.spentRetentionS ?? SPENT_REFRESH_RETENTION_S_DEFAULT;
  }

  private tokenItem(hash: string, rec: RefreshTokenRecord, now: Date): Item {
    return {
      ...rtKey(hash),
      tenant_id: rec.tenant_id,
      agent_id: rec.agent_id,
      generation: rec.generation,
      family_id: rec.family_id,
      audience: rec.audience,
      scope: rec.scope ? [...rec.scope] : null,
      used: false,
      created_at: now.toISOString(),
      expires_at: rec.expires_at,
      expires_at_epoch: epochOf(rec.expires_at),
      gsi1pk: familyTokensPk(rec.family_id),
      gsi1sk: `${now.toISOString()}#${hash}`,
    };
  }

  /** TTL of a token spent at `now`: kept for the retention, never past the family's deadline. */
  private spentEpoch(rec: RefreshTokenRecord, now: Date): number {
    return Math.min(epochOf(rec.expires_at), Math.floor(now.getTime() / 1000) + this.spentRetentionS);
  }

  private puts(events: readonly OutboxEntry[], at: string) {
    return events.map((e) => ({ Put: { TableName: this.table, Item: outboxItem(e, at) } }));
  }

  async find(tokenHash: string): Promise<RefreshTokenLookup | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: rtKey(tokenHash), ConsistentRead: true }),
    );
    const it = r.Item;
    if (!it) return null;
    const fam = await this.client.send(
      new GetCommand({ TableName: this.table, Key: familyKey(String(it.family_id)), ConsistentRead: true }),
    );
    return {
      tenant_id: String(it.tenant_id),
      agent_id: String(it.agent_id),
      generation: Number(it.generation),
      family_id: String(it.family_id),
      audience: String(it.audience),
      scope: Array.isArray(it.scope) ? it.scope.map(String) : null,
      expires_at: String(it.expires_at),
      used: it.used === true,
      family_revoked: !fam.Item || fam.Item.revoked === true,
      ...(typeof it.used_at === 'string' ? { used_at: it.used_at } : {}),
      ...(typeof it.replaced_by === 'string' ? { replaced_by: it.replaced_by } : {}),
      ...(it.grace_used === true ? { grace_used: true } : {}),
    };
  }

  start(tokenHash: string, rec: RefreshTokenRecord, now: Date): readonly ExtraPut[] {
    return [
      {
        table: this.table,
        item: {
          ...familyKey(rec.family_id),
          tenant_id: rec.tenant_id,
          agent_id: rec.agent_id,
          revoked: false,
          created_at: now.toISOString(),
          expires_at: rec.expires_at,
          expires_at_epoch: epochOf(rec.expires_at),
          gsi1pk: agentFamiliesPk(rec.tenant_id, rec.agent_id),
          gsi1sk: `${now.toISOString()}#${rec.family_id}`,
        },
        condition: 'attribute_not_exists(pk)',
      },
      { table: this.table, item: this.tokenItem(tokenHash, rec, now), condition: 'attribute_not_exists(pk)' },
    ];
  }

  private familyLive(familyId: string) {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: familyKey(familyId),
        ConditionExpression: 'attribute_exists(pk) AND revoked = :f',
        ExpressionAttributeValues: { ':f': false },
      },
    };
  }

  rotate(
    oldHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    events: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const at = now.toISOString();
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: rtKey(oldHash),
                UpdateExpression: 'SET used = :t, used_at = :now, replaced_by = :next, expires_at_epoch = :ttl',
                ConditionExpression: 'attribute_exists(pk) AND used = :f AND expires_at > :now',
                ExpressionAttributeValues: {
                  ':t': true,
                  ':f': false,
                  ':now': at,
                  ':next': nextHash,
                  ':ttl': this.spentEpoch(next, now),
                },
              },
            },
            ...this.successorItems(nextHash, next, now, events),
          ],
        }),
      ),
    );
  }

  /** The family still live, the successor token written once, and the events the issuance announces. */
  private successorItems(nextHash: string, next: RefreshTokenRecord, now: Date, events: readonly OutboxEntry[]) {
    return [
      this.familyLive(next.family_id),
      {
        Put: {
          TableName: this.table,
          Item: this.tokenItem(nextHash, next, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...this.puts(events, now.toISOString()),
    ];
  }

  regrant(
    oldHash: string,
    lostHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    spentSince: Date,
    events: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const at = now.toISOString();
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: rtKey(oldHash),
                UpdateExpression: 'SET grace_used = :t, regranted_at = :now, regranted_to = :next',
                ConditionExpression:
                  'attribute_exists(pk) AND used = :t AND replaced_by = :lost AND used_at >= :since AND attribute_not_exists(grace_used) AND expires_at > :now',
                ExpressionAttributeValues: {
                  ':t': true,
                  ':now': at,
                  ':next': nextHash,
                  ':lost': lostHash,
                  ':since': spentSince.toISOString(),
                },
              },
            },
            {
              // The successor the client never received is spent: presenting it later is a reuse.
              Update: {
                TableName: this.table,
                Key: rtKey(lostHash),
                UpdateExpression:
                  'SET used = :t, used_at = :now, replaced_by = :next, grace_used = :t, superseded = :t, expires_at_epoch = :ttl',
                ConditionExpression: 'attribute_exists(pk) AND used = :f',
                ExpressionAttributeValues: {
                  ':t': true,
                  ':f': false,
                  ':now': at,
                  ':next': nextHash,
                  ':ttl': this.spentEpoch(next, now),
                },
              },
            },
            ...this.successorItems(nextHash, next, now, events),
          ],
        }),
      ),
    );
  }

  async revokeFamily(familyId: string, now: Date, events: readonly OutboxEntry[] = []): Promise<void> {
    const at = now.toISOString();
    const update = {
      TableName: this.table,
      Key: familyKey(familyId),
      UpdateExpression: 'SET revoked = :t, revoked_at = if_not_exists(revoked_at, :now)',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':t': true, ':now': at },
    };
    // The revocation and its audit event commit together; the deletes after it are clean-up.
    await writeIf(
      events.length
        ? this.client.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...this.puts(events, at)] }))
        : this.client.send(new UpdateCommand(update)),
    );
    await this.purgeTokens(familyId);
    await this.client.send(new DeleteCommand({ TableName: this.table, Key: familyKey(familyId) }));
  }

  /**
   * Deletes every refresh token family of the agent and their tokens (its credentials were revoked,
   * rotated or terminated: none of them could refresh again). Each family goes first, so its tokens
   * are refused even before they are deleted.
   * @returns how many refresh tokens were deleted
   */
  async revokeAgent(tenantId: string, agentId: string): Promise<number> {
    const families = await queryAll(this.client, {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': agentFamiliesPk(tenantId, agentId) },
    });
    let deleted = 0;
    for (const f of families) {
      if (f.tenant_id !== tenantId || f.agent_id !== agentId) continue;
      const familyId = String(f.pk).slice('RTFAM#'.length);
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: familyKey(familyId) }));
      deleted += await this.purgeTokens(familyId);
    }
    return deleted;
  }

  private async purgeTokens(familyId: string): Promise<number> {
    const tokens = await queryAll(this.client, {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': familyTokensPk(familyId) },
    });
    for (const t of tokens) {
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: { pk: t.pk, sk: t.sk } }));
    }
    return tokens.length;
  }
}

export interface OrphanMarker {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly orphaned_at: string;
  readonly former_owner_sub: string;
}

/** Orphan markers: the sweeper finds due orphans across tenants through gsi1. */
export class DynamoOrphanMarkers {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  put(m: OrphanMarker): ExtraPut {
    return {
      table: this.table,
      item: {
        pk: `T#${m.tenant_id}#ORPHAN`,
        sk: m.agent_id,
        ...m,
        gsi1pk: ORPHAN_GSI_PK,
        gsi1sk: `${m.orphaned_at}#${m.tenant_id}#${m.agent_id}`,
      },
    };
  }

  async remove(tenantId: string, agentId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: `T#${tenantId}#ORPHAN`, sk: agentId } }),
    );
  }

  /** Markers orphaned at or before `before` (ISO), oldest first. */
  async due(before: string, limit = 100): Promise<OrphanMarker[]> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p AND gsi1sk <= :b',
        ExpressionAttributeValues: { ':p': ORPHAN_GSI_PK, ':b': `${before}#~` },
      },
      limit,
    );
    return items.map((it) => ({
      tenant_id: String(it.tenant_id),
      agent_id: String(it.agent_id),
      orphaned_at: String(it.orphaned_at),
      former_owner_sub: String(it.former_owner_sub),
    }));
  }
}

export type { CredentialBindingRecord as CredentialBindingRow } from '../core/broker.js';

/** CredentialBinding rows (seed C2.2): which agent got what kind of credential; never the credential. */
export class DynamoCredentialBindings {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async record(b: CredentialBindingRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `T#${b.tenant_id}#CREDBIND#${b.agent_id}`, sk: b.binding_id, ...b },
      }),
    );
  }

  async list(tenantId: string, agentId: string): Promise<CredentialBindingRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': `T#${tenantId}#CREDBIND#${agentId}` },
      ConsistentRead: true,
    });
    return items.map((it) => {
      const { pk: _p, sk: _s, ...rest } = it;
      return rest as unknown as CredentialBindingRecord;
    });
  }

  /** Deletes every binding of the agent (seed C6: cascade-revoke every CredentialBinding); returns how many. */
  async revokeAll(tenantId: string, agentId: string): Promise<number> {
    const rows = await this.list(tenantId, agentId);
    for (const r of rows) {
      await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: `T#${tenantId}#CREDBIND#${agentId}`, sk: r.binding_id },
        }),
      );
    }
    return rows.length;
  }
}
