import { BatchWriteCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import type { Recommendation, RecommendationStore } from '../core/recommendations.js';

/**
 * Listed recommendations in the control table (`T#<tenant>#RECS` / `<recommendation_id>`), kept
 * until `expires_at` (TTL `expires_at_epoch`), so `apply` applies exactly what was listed.
 */
export class DynamoRecommendationStore implements RecommendationStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async put(tenantId: string, recs: readonly Recommendation[], ttlSeconds: number): Promise<void> {
    for (let i = 0; i < recs.length; i += 25) {
      const items = recs.slice(i, i + 25).map((r) => {
        const exp = Math.floor(Date.parse(r.created_at) / 1000) + ttlSeconds;
        return {
          PutRequest: {
            Item: {
              pk: `T#${tenantId}#RECS`,
              sk: r.recommendation_id,
              tenant_id: tenantId,
              recommendation: JSON.stringify(r),
              expires_at: new Date(exp * 1000).toISOString(),
              expires_at_epoch: exp,
            },
          },
        };
      });
      let pending: typeof items | undefined = items;
      for (let attempt = 0; pending?.length && attempt < 5; attempt++) {
        const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
        pending = out.UnprocessedItems?.[this.table] as typeof items | undefined;
      }
      if (pending?.length) throw new Error('recommendations were not all stored');
    }
  }

  async get(tenantId: string, id: string): Promise<Recommendation | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: `T#${tenantId}#RECS`, sk: id }, ConsistentRead: true }),
    );
    if (!out.Item || String(out.Item.expires_at) <= new Date().toISOString()) return null;
    return JSON.parse(String(out.Item.recommendation)) as Recommendation;
  }
}
