import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { countAwsCalls } from '../../../local/aws-calls.js';
import { createSingleTable } from '../../support/tables.js';

describe('local/aws-calls: counts AWS calls per service/operation (moto)', () => {
  it('counts each logical call once (document client included), per service and operation; reset clears', async () => {
    const counter = countAwsCalls();
    const table = `calls-${randomBytes(4).toString('hex')}`;
    await createSingleTable(table);
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    counter.reset();
    await doc.send(new PutCommand({ TableName: table, Item: { pk: 'a', sk: 'b' } }));
    await doc.send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 'b' } }));
    await doc.send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 'b' } }));
    await new SQSClient({}).send(new ListQueuesCommand({}));
    expect(counter.snapshot()).toEqual({ 'DynamoDB.GetItem': 2, 'DynamoDB.PutItem': 1, 'SQS.ListQueues': 1 });
    expect(counter.total()).toBe(4);
    counter.reset();
    expect(counter.snapshot()).toEqual({});
  });
});
