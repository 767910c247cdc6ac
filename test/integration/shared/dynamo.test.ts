import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  countAll,
  decodePageToken,
  encodePageToken,
  queryAll,
  queryPage,
  queryPages,
  writeIf,
  type Item,
  type PageKeys,
} from '../../../lambdas/shared/dynamo.js';
import { ValidationError } from '../../../lambdas/shared/errors.js';
import { createSingleTable } from '../../support/tables.js';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const table = `dyn-${randomBytes(4).toString('hex')}`;
const pad = (i: number) => String(i).padStart(4, '0');
// A small Limit on the queries below forces several pages.
const byPk = (pk: string) => ({
  TableName: table,
  KeyConditionExpression: 'pk = :p',
  ExpressionAttributeValues: { ':p': pk },
});
const keys = (pk: string): PageKeys => ({ attributes: ['pk', 'sk'], equal: { pk } });
const idx = (t: string) => ({
  TableName: table,
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :p',
  ExpressionAttributeValues: { ':p': `T#${t}` },
});
const idxKeys = (t: string): PageKeys => ({
  attributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'],
  equal: { gsi1pk: `T#${t}` },
  prefix: { pk: `T#${t}#` },
});

async function putAll(items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25)
    await ddb.send(
      new BatchWriteCommand({
        RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
}

async function drain(input: Parameters<typeof queryPage>[1], o: Omit<Parameters<typeof queryPage>[2], 'token'>) {
  const pages: Item[][] = [];
  let token: string | undefined;
  do {
    const p = await queryPage(ddb, input, { ...o, token });
    pages.push(p.items);
    token = p.next_token;
  } while (token);
  return pages;
}

describe('shared/dynamo against moto', () => {
  beforeAll(async () => {
    await createSingleTable(table);
    await putAll(Array.from({ length: 53 }, (_, i) => ({ pk: 'T#a#N', sk: pad(i), n: i, even: i % 2 === 0 })));
    await putAll(
      Array.from({ length: 7 }, (_, i) => ({ pk: `T#a#X${i}`, sk: 'CURRENT', gsi1pk: 'T#a', gsi1sk: pad(i), n: i })),
    );
    await putAll(
      Array.from({ length: 3 }, (_, i) => ({ pk: `T#b#X${i}`, sk: 'CURRENT', gsi1pk: 'T#b', gsi1sk: pad(i) })),
    );
  });

  it('queryAll reads every page, or stops at max without reading more than it needs', async () => {
    const all = await queryAll(ddb, { ...byPk('T#a#N'), Limit: 10 });
    expect(all.map((i) => i.n)).toEqual(Array.from({ length: 53 }, (_, i) => i));
    expect((await queryAll(ddb, { ...byPk('T#a#N'), Limit: 10 }, 25)).map((i) => i.n)).toEqual(
      Array.from({ length: 25 }, (_, i) => i),
    );
    expect(await queryAll(ddb, byPk('T#a#N'), 7)).toHaveLength(7);
    expect(await queryAll(ddb, byPk('T#nobody'))).toEqual([]);
  });

  it('queryPages yields page after page to the end', async () => {
    const sizes: number[] = [];
    for await (const items of queryPages(ddb, { ...byPk('T#a#N'), Limit: 20 })) sizes.push(items.length);
    expect(sizes.slice(0, 3)).toEqual([20, 20, 13]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(53);
  });

  it('countAll counts across pages, with a filter too', async () => {
    expect(await countAll(ddb, { ...byPk('T#a#N'), Limit: 10 })).toBe(53);
    expect(
      await countAll(ddb, {
        ...byPk('T#a#N'),
        Limit: 10,
        FilterExpression: 'even = :t',
        ExpressionAttributeValues: { ':p': 'T#a#N', ':t': true },
      }),
    ).toBe(27);
    expect(await countAll(ddb, byPk('T#nobody'))).toBe(0);
  });

  it('queryPage pages exactly: no token after the last item, every item once, in order', async () => {
    const pages = await drain(byPk('T#a#N'), { limit: 10, keys: keys('T#a#N') });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 10, 10, 3]);
    expect(pages.flat().map((i) => i.n)).toEqual(Array.from({ length: 53 }, (_, i) => i));
    // Exactly `limit` items left: one page, no token that would lead to an empty page.
    expect(await queryPage(ddb, byPk('T#a#N'), { limit: 53, keys: keys('T#a#N') })).not.toHaveProperty('next_token');
    const newest = await queryPage(
      ddb,
      { ...byPk('T#a#N'), ScanIndexForward: false },
      { limit: 2, keys: keys('T#a#N') },
    );
    expect(newest.items.map((i) => i.n)).toEqual([52, 51]);
  });

  it('queryPage with an in-memory filter keeps only what it accepts, across sparse pages', async () => {
    const keep = (i: Item) => (i.n as number) % 10 === 3;
    const pages = await drain(byPk('T#a#N'), { limit: 2, keys: keys('T#a#N'), keep, pageSize: 7 });
    expect(pages.map((p) => p.map((i) => i.n))).toEqual([[3, 13], [23, 33], [43]]);
    const filtered = await drain(
      { ...byPk('T#a#N'), FilterExpression: 'even = :t', ExpressionAttributeValues: { ':p': 'T#a#N', ':t': true } },
      { limit: 10, keys: keys('T#a#N') },
    );
    expect(filtered.flat()).toHaveLength(27);
  });

  it('queryPage over an index: tokens carry the index key and stay bound to the tenant', async () => {
    const first = await queryPage(ddb, idx('a'), { limit: 3, keys: idxKeys('a') });
    expect(first.items.map((i) => i.n)).toEqual([0, 1, 2]);
    expect(Object.keys(decodePageToken(first.next_token, idxKeys('a'))!).sort()).toEqual([
      'gsi1pk',
      'gsi1sk',
      'pk',
      'sk',
    ]);
    const rest = await queryPage(ddb, idx('a'), { limit: 10, keys: idxKeys('a'), token: first.next_token });
    expect(rest.items.map((i) => i.n)).toEqual([3, 4, 5, 6]);
    expect(rest.next_token).toBeUndefined();
    // Tenant b cannot continue tenant a's listing, and a token naming b's index is refused for a.
    await expect(queryPage(ddb, idx('b'), { limit: 3, keys: idxKeys('b'), token: first.next_token })).rejects.toThrow(
      ValidationError,
    );
    const forged = encodePageToken({ pk: 'T#b#X0', sk: 'CURRENT', gsi1pk: 'T#b', gsi1sk: '0000' });
    await expect(queryPage(ddb, idx('a'), { limit: 3, keys: idxKeys('a'), token: forged })).rejects.toThrow(
      ValidationError,
    );
  });

  it('writeIf reports a failed condition as false against the emulator', async () => {
    const put = () =>
      ddb.send(
        new PutCommand({
          TableName: table,
          Item: { pk: 'T#a#ONCE', sk: 'x' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    expect(await writeIf(put())).toBe(true);
    expect(await writeIf(put())).toBe(false);
    await expect(
      writeIf(ddb.send(new PutCommand({ TableName: `${table}-missing`, Item: { pk: 'a', sk: 'b' } }))),
    ).rejects.toThrow();
  });
});
