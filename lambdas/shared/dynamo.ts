/**
 * DynamoDB plumbing every adapter shares: reading a query to its end, counting, conditional
 * writes, and the opaque `next_token` of a paged listing, bound to the partition it pages.
 *
 * @example
 * const rows = await queryAll(client, { TableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues });
 * if (!(await writeIf(client.send(new PutCommand({ …, ConditionExpression: 'attribute_not_exists(pk)' }))))) …
 * const page = await queryPage(client, input, { limit, token, keys: { attributes: ['pk', 'sk'], equal: { pk } } });
 */
import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from './errors.js';

export type Item = Record<string, unknown>;
/** A query as the helpers take it: they own paging (ExclusiveStartKey) and Select. */
export type Query = Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Select'>;

/** True when an AWS SDK error is a DynamoDB conditional-check failure (plain or inside a transaction). */
export function isConditionalCheckFailed(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'ConditionalCheckFailedException') return true;
  if (name === 'TransactionCanceledException') {
    const reasons = (e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some((r) => r.Code === 'ConditionalCheckFailed');
  }
  return false;
}

/**
 * Awaits a conditional write: true when it was written, false when its condition failed;
 * any other failure is thrown.
 */
export async function writeIf(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (e) {
    if (isConditionalCheckFailed(e)) return false;
    throw e;
  }
}

/** The pages of a query, one array of items each, following LastEvaluatedKey to the end. */
export async function* queryPages(client: DynamoDBDocumentClient, input: Query): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const r = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    yield r.Items ?? [];
    start = r.LastEvaluatedKey;
  } while (start);
}

/**
 * Every item a query matches, or the first `max` of them (no page reads more than it still
 * needs: `Limit` is lowered to what is missing).
 */
export async function queryAll(client: DynamoDBDocumentClient, input: Query, max = Infinity): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const missing = max - out.length;
    const limit = Number.isFinite(missing) ? Math.min(input.Limit ?? missing, missing) : input.Limit;
    const r = await client.send(
      new QueryCommand({ ...input, ExclusiveStartKey: start, ...(limit === undefined ? {} : { Limit: limit }) }),
    );
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start && out.length < max);
  return out;
}

/** How many items a query matches (Select COUNT over every page). */
export async function countAll(client: DynamoDBDocumentClient, input: Query): Promise<number> {
  let n = 0;
  let start: Item | undefined;
  do {
    const r = await client.send(new QueryCommand({ ...input, Select: 'COUNT', ExclusiveStartKey: start }));
    n += r.Count ?? 0;
    start = r.LastEvaluatedKey;
  } while (start);
  return n;
}

/**
 * What a listing's key looks like and what binds its tokens to the caller: the key has exactly
 * `attributes` (the table's key, plus the index's when the query reads one), all strings; each
 * of `equal` has that value (the partition the query reads, which names the tenant) and each of
 * `prefix` starts with its value (the table key under an index, e.g. `T#<tenant>#A#`).
 */
export interface PageKeys {
  readonly attributes: readonly string[];
  readonly equal: Readonly<Record<string, string>>;
  readonly prefix?: Readonly<Record<string, string>>;
}

/** Longest token accepted (a key of four short strings is far below it). */
const MAX_TOKEN_CHARS = 2048;

/** The `next_token` that continues after `key` (base64url JSON of the key). */
export function encodePageToken(key: Item): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * The start key of a `next_token`, or undefined without one. A token that is not one this API
 * issued for this listing (malformed, altered into another shape, or minted for another tenant's
 * partition) is a ValidationError (400), never passed on to DynamoDB.
 */
export function decodePageToken(token: string | undefined, keys: PageKeys): Item | undefined {
  if (token === undefined || token === '') return undefined;
  const refuse = (): never => {
    throw new ValidationError('invalid next_token', [{ path: 'next_token', message: 'not a token this API issued' }]);
  };
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) refuse();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    refuse();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return refuse();
  const k = key as Item;
  const names = Object.keys(k).sort();
  const want = [...keys.attributes].sort();
  if (names.length !== want.length || names.some((n, i) => n !== want[i])) refuse();
  if (names.some((n) => typeof k[n] !== 'string' || k[n] === '')) refuse();
  for (const [n, v] of Object.entries(keys.equal)) if (k[n] !== v) refuse();
  for (const [n, p] of Object.entries(keys.prefix ?? {})) if (!(k[n] as string).startsWith(p)) refuse();
  return k;
}

/**
 * One page of a listing: up to `limit` items (those `keep` accepts, when given), continuing
 * after `token`. `next_token` is present only when another kept item follows; it names the key
 * of the last item returned. Each read asks for one item more than is missing (at least
 * `pageSize`), so a sparse in-memory filter does not cost one round trip per item.
 */
export async function queryPage(
  client: DynamoDBDocumentClient,
  input: Query,
  o: {
    readonly limit: number;
    readonly token?: string | undefined;
    readonly keys: PageKeys;
    readonly keep?: (item: Item) => boolean;
    readonly pageSize?: number;
  },
): Promise<{ items: Item[]; next_token?: string }> {
  let start = decodePageToken(o.token, o.keys);
  const items: Item[] = [];
  let more = false;
  do {
    const r = await client.send(
      new QueryCommand({
        ...input,
        ExclusiveStartKey: start,
        Limit: Math.min(1000, Math.max(o.pageSize ?? 0, o.limit - items.length + 1)),
      }),
    );
    for (const it of r.Items ?? []) {
      if (o.keep && !o.keep(it)) continue;
      if (items.length === o.limit) {
        more = true;
        break;
      }
      items.push(it);
    }
    start = r.LastEvaluatedKey;
  } while (!more && start);
  const last = items.at(-1);
  if (!more || !last) return { items };
  return { items, next_token: encodePageToken(Object.fromEntries(o.keys.attributes.map((a) => [a, last[a]]))) };
}
