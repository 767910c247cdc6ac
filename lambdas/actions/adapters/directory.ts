import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import type { AgentDirectory, AgentInfo } from '../core/model.js';

/**
 * Reads an agent's current inventory version (discovery's layout: `T#<t>#A#<agent>` / `CURRENT`)
 * for its owner binding and name.
 */
export class InventoryAgentDirectory implements AgentDirectory {
  constructor(
    private readonly inventoryTable: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async get(tenantId: string, agentId: string): Promise<AgentInfo | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.inventoryTable,
        Key: { pk: `T#${tenantId}#A#${agentId}`, sk: 'CURRENT' },
        ConsistentRead: true,
      }),
    );
    const it = r.Item as
      | { agent_id: string; name?: string; status: string; owner?: { oidc_sub?: string; email?: string } }
      | undefined;
    if (!it) return null;
    return {
      agent_id: it.agent_id,
      status: it.status,
      ...(it.name ? { name: it.name } : {}),
      ...(it.owner?.oidc_sub ? { owner_sub: it.owner.oidc_sub } : {}),
      ...(it.owner?.email ? { owner_email: it.owner.email } : {}),
    };
  }
}
