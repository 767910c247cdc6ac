import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import type { HeldEntry, HeldStore } from '../../../sdk/mcp-gateway/index.js';
import { documentClient } from '../../shared/aws.js';
import { isConditionalCheckFailed } from '../../shared/dynamo.js';

/**
 * The hosted MCP gateway's held calls and spent grants, in the control table, so a fresh server
 * per request (stateless Streamable HTTP) finds the approval a previous request asked for and runs
 * an approved call once. Keys are per tenant and agent: `T#<tenant>#MCP#HELD#<sha256(agent, binding)>`
 * and `T#<tenant>#MCP#SPENT#<action id>`, forgotten by the table's TTL (`expires_at_epoch`).
 */
const TTL_S = 8 * 24 * 3600; // longer than any approval's expiry

export class DynamoHeldStore implements HeldStore {
  constructor(
    private readonly table: string,
    private readonly tenantId: string,
    private readonly agentId: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  private heldKey(key: string) {
    const h = createHash('sha256').update(`${this.agentId}\u0000${key}`).digest('hex');
    return { pk: `T#${this.tenantId}#MCP#HELD#${h}`, sk: 'MCPHELD' };
  }
  private ttl = () => Math.floor(Date.now() / 1000) + TTL_S;

  async get(key: string): Promise<HeldEntry | undefined> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: this.heldKey(key), ConsistentRead: true }),
    );
    if (!r.Item) return undefined;
    const { action_id, approval_id, expires_at } = r.Item as HeldEntry;
    return { action_id, ...(approval_id ? { approval_id } : {}), ...(expires_at ? { expires_at } : {}) };
  }

  async set(key: string, entry: HeldEntry): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { ...this.heldKey(key), ...entry, expires_at_epoch: this.ttl() } }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.table, Key: this.heldKey(key) }));
  }

  async spend(actionId: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `T#${this.tenantId}#MCP#SPENT#${actionId}`, sk: 'MCPSPENT', expires_at_epoch: this.ttl() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }
}
