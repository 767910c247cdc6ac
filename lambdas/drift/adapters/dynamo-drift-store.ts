import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { writeIf } from '../../shared/dynamo.js';
import type { OutboxEntry } from '../../shared/events.js';
import { outboxItem } from '../../shared/outbox.js';
import type { DriftState } from '../core/drift.js';
import type { DriftStore } from '../core/service.js';

/** Keys (control table): one item per agent in the tenant's drift partition. */
export const driftKey = (tenantId: string, agentId: string) => ({ pk: `T#${tenantId}#DRIFT`, sk: `AGENT#${agentId}` });

/**
 * The per-agent drift state in the control table: the compact baseline as JSON, a version for
 * optimistic concurrency, and the score and alert flag as attributes. A write with events puts
 * their outbox items in the same transaction (transactional outbox).
 */
export class DynamoDriftStore implements DriftStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async get(tenantId: string, agentId: string): Promise<{ state: DriftState; version: number } | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: driftKey(tenantId, agentId), ConsistentRead: true }),
    );
    if (!out.Item) return null;
    return { state: JSON.parse(String(out.Item.state)) as DriftState, version: Number(out.Item.version) };
  }

  async put(
    tenantId: string,
    agentId: string,
    state: DriftState,
    expected: number,
    events: readonly OutboxEntry[],
    at: string,
  ): Promise<boolean> {
    const put = {
      TableName: this.table,
      Item: {
        ...driftKey(tenantId, agentId),
        tenant_id: tenantId,
        agent_id: agentId,
        state: JSON.stringify(state),
        version: expected + 1,
        score: state.score,
        alert: state.alert,
        updated_at: at,
      },
      ConditionExpression: expected === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
      ...(expected === 0 ? {} : { ExpressionAttributeValues: { ':v': expected } }),
    };
    if (!events.length) return writeIf(this.client.send(new PutCommand(put)));
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: put },
            ...events.map((e) => ({ Put: { TableName: this.table, Item: outboxItem(e, at) } })),
          ],
        }),
      ),
    );
  }
}
