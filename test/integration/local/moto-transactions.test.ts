/**
 * The emulator the tests and `npm run dev` run (local/moto_inprocess.py) rolls a cancelled
 * TransactWriteItems back from an undo log of the items it touches, instead of moto's copy of
 * every whole table. These check that the rollback is still exact, and that it never undoes
 * writes other requests made meanwhile (what moto's table snapshot did).
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';

const ddb = new DynamoDBClient({});
const s = (v: string) => ({ S: v });

async function table(withRange: boolean): Promise<string> {
  const name = `txn-${withRange ? 'r' : 'h'}-${randomBytes(4).toString('hex')}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        ...(withRange ? [{ AttributeName: 'sk', AttributeType: 'S' as const }] : []),
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        ...(withRange ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : []),
      ],
    }),
  );
  return name;
}

const get = async (t: string, key: Record<string, { S: string }>) =>
  (await ddb.send(new GetItemCommand({ TableName: t, Key: key, ConsistentRead: true }))).Item;

describe.each([false, true])('a cancelled transaction (range key: %s)', (withRange) => {
  let t: string;
  const key = (id: string): Record<string, { S: string }> => (withRange ? { pk: s('P'), sk: s(id) } : { pk: s(id) });
  beforeAll(async () => {
    t = await table(withRange);
    await ddb.send(new PutItemCommand({ TableName: t, Item: { ...key('kept'), v: s('before') } }));
    await ddb.send(new PutItemCommand({ TableName: t, Item: { ...key('deleted'), v: s('before') } }));
  });

  it('leaves every item it touched as it was: updated, deleted and newly put ones', async () => {
    const err = await ddb
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: t,
                Key: key('kept'),
                UpdateExpression: 'SET v = :v',
                ExpressionAttributeValues: { ':v': s('after') },
              },
            },
            { Delete: { TableName: t, Key: key('deleted') } },
            { Put: { TableName: t, Item: { ...key('new'), v: s('after') } } },
            { ConditionCheck: { TableName: t, Key: key('absent'), ConditionExpression: 'attribute_exists(pk)' } },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect((err as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'None',
      'None',
      'ConditionalCheckFailed',
    ]);
    expect((await get(t, key('kept')))?.v).toEqual(s('before'));
    expect((await get(t, key('deleted')))?.v).toEqual(s('before'));
    expect(await get(t, key('new'))).toBeUndefined();
  });

  it('applies a transaction whose conditions hold', async () => {
    await ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: t, Item: { ...key('fresh'), v: s('one') } } },
          { ConditionCheck: { TableName: t, Key: key('kept'), ConditionExpression: 'attribute_exists(pk)' } },
        ],
      }),
    );
    expect((await get(t, key('fresh')))?.v).toEqual(s('one'));
  });

  it('never reverts writes other requests make while transactions are being cancelled', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `w${i}`);
    await Promise.all([
      ...ids.map((id) => ddb.send(new PutItemCommand({ TableName: t, Item: { ...key(id), v: s('written') } }))),
      ...ids.map((id) =>
        ddb
          .send(
            new TransactWriteItemsCommand({
              TransactItems: [
                { Put: { TableName: t, Item: { ...key(`x-${id}`), v: s('cancelled') } } },
                {
                  ConditionCheck: { TableName: t, Key: key('absent'), ConditionExpression: 'attribute_exists(pk)' },
                },
              ],
            }),
          )
          .catch((e: unknown) => e),
      ),
    ]);
    for (const id of ids) {
      expect((await get(t, key(id)))?.v).toEqual(s('written'));
      expect(await get(t, key(`x-${id}`))).toBeUndefined();
    }
  });
});
