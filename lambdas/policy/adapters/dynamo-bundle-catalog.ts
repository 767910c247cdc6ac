import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { queryPage, writeIf } from '../../shared/dynamo.js';
import type { BundleCatalog, BundleCatalogEntry } from '../core/service.js';

/**
 * The tenant's bundle catalog in the control table, one item per stored bundle: pk
 * `T#<tenant>#POLICY#BUNDLES`, sk `V#<version, 12 digits>` (the tenant's version counter makes it
 * unique), listed newest first. The bundle itself stays in S3; this is what a listing reads.
 */
export class DynamoBundleCatalog implements BundleCatalog {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  static pk(tenantId: string): string {
    return `T#${tenantId}#POLICY#BUNDLES`;
  }
  static sk(version: number): string {
    return `V#${String(version).padStart(12, '0')}`;
  }

  async record(tenantId: string, e: BundleCatalogEntry): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: DynamoBundleCatalog.pk(tenantId), sk: DynamoBundleCatalog.sk(e.version), type: 'Bundle', ...e },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Marks a bundle as having been live; false when the catalog has no entry for it. */
  markPromoted(tenantId: string, version: number, at: string, by: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: DynamoBundleCatalog.pk(tenantId), sk: DynamoBundleCatalog.sk(version) },
          UpdateExpression: 'SET last_promoted_at = :at, last_promoted_by = :by',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at, ':by': by },
        }),
      ),
    );
  }

  async list(
    tenantId: string,
    o: { limit: number; next_token?: string | undefined },
  ): Promise<{ items: BundleCatalogEntry[]; next_token?: string }> {
    const pk = DynamoBundleCatalog.pk(tenantId);
    const page = await queryPage(
      this.client,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': pk },
        ScanIndexForward: false,
      },
      { limit: o.limit, token: o.next_token, keys: { attributes: ['pk', 'sk'], equal: { pk } } },
    );
    const items = page.items.map(({ pk: _p, sk: _s, type: _t, ...rest }) => rest as unknown as BundleCatalogEntry);
    return page.next_token ? { items, next_token: page.next_token } : { items };
  }
}
