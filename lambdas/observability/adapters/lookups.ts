import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { DynamoActionStore } from '../../actions/index.js';
import { DynamoEventStore } from '../../audit/index.js';
import { queryAll } from '../../shared/dynamo.js';
import type { ActionLookup, AuditLookup } from '../core/traces.js';
import type { CohortDirectory } from '../core/usage.js';

/** Reads governed actions and approvals through the actions capability's own store (read only). */
export class ActionStoreLookup implements ActionLookup {
  private readonly store: DynamoActionStore;
  constructor(controlTable: string, client?: DynamoDBDocumentClient) {
    this.store = new DynamoActionStore(controlTable, client);
  }
  async getAction(tenantId: string, actionId: string) {
    return (await this.store.getAction(tenantId, actionId)) as unknown as Record<string, unknown> | null;
  }
  async getApproval(tenantId: string, approvalId: string) {
    return (await this.store.getApproval(tenantId, approvalId)) as unknown as Record<string, unknown> | null;
  }
}

/**
 * Audit events of a trace through the audit store's per-agent index: the newest `maxPages` pages
 * of the agent's events, filtered by trace id (the audit table has no trace index; `complete`
 * says whether the window reached the agent's oldest event).
 */
export class AuditStoreLookup implements AuditLookup {
  private readonly store: DynamoEventStore;
  constructor(
    auditTable: string,
    client?: DynamoDBDocumentClient,
    private readonly maxPages = 5,
  ) {
    this.store = new DynamoEventStore(auditTable, client);
  }
  async eventsForTrace(tenantId: string, agentId: string, traceId: string) {
    const items: Record<string, unknown>[] = [];
    let token: string | undefined;
    for (let i = 0; i < this.maxPages; i++) {
      const page = await this.store.listEvents(tenantId, {
        agentId,
        limit: 200,
        ...(token ? { nextToken: token } : {}),
      });
      for (const e of page.items) if (e.trace_id === traceId) items.push(e as unknown as Record<string, unknown>);
      token = page.next_token;
      if (!token) return { items, complete: true };
    }
    return { items, complete: false };
  }
}

/**
 * Cohort membership from the inventory table's tenant index (`gsi1pk = T#<tenant>`, the layout
 * of identity's DynamoInventoryStore), read only.
 */
export class InventoryCohorts implements CohortDirectory {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}
  private async all(tenantId: string): Promise<{ agent_id: string; cohort?: string }[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :t',
      ExpressionAttributeValues: { ':t': `T#${tenantId}` },
      ProjectionExpression: 'agent_id, cohort',
    });
    return items.filter((it): it is { agent_id: string; cohort?: string } => typeof it.agent_id === 'string');
  }
  async agentsOf(tenantId: string, cohort: string): Promise<string[]> {
    return [...new Set((await this.all(tenantId)).filter((a) => a.cohort === cohort).map((a) => a.agent_id))];
  }
  async cohortOf(tenantId: string, agentId: string): Promise<string | null> {
    return (await this.all(tenantId)).find((a) => a.agent_id === agentId)?.cohort ?? null;
  }
}
