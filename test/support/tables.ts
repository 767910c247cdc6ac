import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

const gsi = (n: string) => ({
  IndexName: n,
  KeySchema: [
    { AttributeName: `${n}pk`, KeyType: 'HASH' as const },
    { AttributeName: `${n}sk`, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as const },
});

/**
 * A single table shaped like the stack's control and audit tables (string pk/sk, GSIs gsi1 and
 * gsi2), for suites that exercise one adapter without provisioning the whole stack.
 */
export async function createSingleTable(name: string): Promise<void> {
  await new DynamoDBClient({}).send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((a) => ({
        AttributeName: a,
        AttributeType: 'S' as const,
      })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [gsi('gsi1'), gsi('gsi2')],
    }),
  );
}
