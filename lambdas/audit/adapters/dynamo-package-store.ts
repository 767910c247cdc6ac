import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import type { PackageRecord, PackageStore } from '../core/packages.js';
import { auditKeys as k, stripKeys } from './audit-table.js';

/** The PackageStore port on the audit table: compliance package records (the artifacts are in S3). */
export class DynamoPackageStore implements PackageStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async putPackage(r: PackageRecord): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: { pk: k.packages(r.tenant_id), sk: r.package_id, ...r } }),
    );
  }

  async getPackage(tenantId: string, id: string): Promise<PackageRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: k.packages(tenantId), sk: id } }),
    );
    return r.Item ? stripKeys<PackageRecord>(r.Item) : null;
  }
}
