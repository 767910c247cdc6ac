import type { OutboxEntry } from '../../shared/events.js';
import { outboxItem } from '../../shared/outbox.js';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { writeIf } from '../../shared/dynamo.js';
import type { BlockSummary, ChainRecord, ChainStore } from '../core/ports.js';
import { auditKeys as k, heightSk, stripKeys } from './audit-table.js';

/**
 * The ChainStore port on the audit table: the chain head, block summaries and their anchoring
 * state, and the sealer's lease. The head moves only by conditional writes on its height.
 */
export class DynamoChainStore implements ChainStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async getChain(tenantId: string): Promise<ChainRecord | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: k.chain(tenantId), sk: 'HEAD' }, ConsistentRead: true }),
    );
    return r.Item ? stripKeys<ChainRecord>(r.Item) : null;
  }

  commitBlock(
    prevHeight: number,
    next: ChainRecord,
    summary: BlockSummary,
    outbox?: { readonly table: string; readonly entry: OutboxEntry },
  ): Promise<boolean> {
    const t = next.tenant_id;
    return writeIf(
      this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk: k.chain(t), sk: 'HEAD', ...next },
                ConditionExpression: prevHeight === 0 ? 'attribute_not_exists(pk)' : 'height = :h',
                ...(prevHeight === 0 ? {} : { ExpressionAttributeValues: { ':h': prevHeight } }),
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { pk: k.blocks(t), sk: heightSk(summary.height), ...summary },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            ...(outbox
              ? [{ Put: { TableName: outbox.table, Item: outboxItem(outbox.entry, summary.head.sealed_at) } }]
              : []),
          ],
        }),
      ),
    );
  }

  async finishMarking(tenantId: string, height: number): Promise<void> {
    // A head no longer marking this height was finished by another run: nothing to do.
    await writeIf(
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: k.chain(tenantId), sk: 'HEAD' },
          UpdateExpression: 'SET marking_height = :null',
          ConditionExpression: 'marking_height = :h',
          ExpressionAttributeValues: { ':null': null, ':h': height },
        }),
      ),
    );
  }

  async recordAnchor(tenantId: string, height: number, anchoredAt: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const chain = await this.getChain(tenantId);
      if (!chain) return;
      const unanchored = chain.unanchored.filter((h) => h !== height);
      const oldest = unanchored.length === 0 ? null : chain.oldest_unanchored_at;
      const written = await writeIf(
        this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: k.chain(tenantId), sk: 'HEAD' },
                  UpdateExpression: 'SET unanchored = :u, oldest_unanchored_at = :o, last_anchored_at = :a',
                  ConditionExpression: 'height = :h',
                  ExpressionAttributeValues: { ':u': unanchored, ':o': oldest, ':a': anchoredAt, ':h': chain.height },
                },
              },
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: k.blocks(tenantId), sk: heightSk(height) },
                  UpdateExpression: 'SET anchored = :t, anchored_at = :a',
                  ExpressionAttributeValues: { ':t': true, ':a': anchoredAt },
                },
              },
            ],
          }),
        ),
      );
      // The head moved (a new block) between the read and the write: read it again.
      if (written) return;
    }
  }

  async getBlockSummary(tenantId: string, height: number): Promise<BlockSummary | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk: k.blocks(tenantId), sk: heightSk(height) } }),
    );
    return r.Item ? stripKeys<BlockSummary>(r.Item) : null;
  }

  async listBlocks(tenantId: string, fromHeight: number, limit: number): Promise<BlockSummary[]> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND sk >= :s',
        ExpressionAttributeValues: { ':p': k.blocks(tenantId), ':s': heightSk(fromHeight) },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map((i) => stripKeys<BlockSummary>(i));
  }

  tryLease(tenantId: string, owner: string, untilIso: string, nowIso: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: k.chain(tenantId), sk: 'LEASE', owner, until: untilIso },
          ConditionExpression: 'attribute_not_exists(pk) OR #u < :now OR #o = :me',
          ExpressionAttributeNames: { '#u': 'until', '#o': 'owner' },
          ExpressionAttributeValues: { ':now': nowIso, ':me': owner },
        }),
      ),
    );
  }

  async releaseLease(tenantId: string, owner: string): Promise<void> {
    // A lease another owner holds now is not ours to release.
    await writeIf(
      this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: k.chain(tenantId), sk: 'LEASE' },
          ConditionExpression: '#o = :me',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':me': owner },
        }),
      ),
    );
  }
}
