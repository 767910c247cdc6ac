import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import type { InventoryReader, PrincipalInventoryRecord } from '../../shared/ports.js';

/**
 * InventoryReader over discovery's inventory table (`T#<tenant>#A#<agent>` / `CURRENT`): reads
 * only the status, the owner binding's state and `sanctioned`, strongly consistent.
 */
export class DynamoInventoryReader implements InventoryReader {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async principal(tenantId: string, agentId: string): Promise<PrincipalInventoryRecord | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `T#${tenantId}#A#${agentId}`, sk: 'CURRENT' },
        ConsistentRead: true,
        ProjectionExpression: '#t, #a, #s, #o, #n',
        ExpressionAttributeNames: {
          '#t': 'tenant_id',
          '#a': 'agent_id',
          '#s': 'status',
          '#o': 'owner',
          '#n': 'sanctioned',
        },
      }),
    );
    const it = r.Item as
      | {
          tenant_id?: string;
          agent_id?: string;
          status?: string;
          owner?: { status?: string; orphaned_at?: string };
          sanctioned?: unknown;
        }
      | undefined;
    if (!it || it.tenant_id !== tenantId || it.agent_id !== agentId) return null;
    return {
      status: it.status as PrincipalInventoryRecord['status'],
      ...(it.owner?.status === 'orphaned' || it.owner?.status === 'live' ? { owner_status: it.owner.status } : {}),
      ...(typeof it.owner?.orphaned_at === 'string' ? { orphaned_at: it.owner.orphaned_at } : {}),
      ...(typeof it.sanctioned === 'boolean' ? { sanctioned: it.sanctioned } : {}),
    };
  }
}
