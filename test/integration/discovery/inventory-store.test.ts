import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { DynamoInventoryStore } from '../../../lambdas/identity/adapters/dynamo-inventory-store.js';
import { EventBridgePublisher, type EventPublisher } from '../../../lambdas/shared/events.js';
import { Outbox, outboxPk } from '../../../lambdas/shared/outbox.js';
import { ConflictError } from '../../../lambdas/shared/errors.js';
import { newId } from '../../../lambdas/shared/ids.js';
import type { AgentRecord, InventoryChange } from '../../../lambdas/shared/ports.js';
import { spiffeIdOf } from '../../../lambdas/shared/ids.js';
import { provisionTestStack } from '../../support/stack.js';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

function record(tenant: string, native: string): AgentRecord {
  const id = newId('agt');
  const at = new Date().toISOString();
  return {
    tenant_id: tenant,
    agent_id: id,
    spiffe_id: spiffeIdOf(tenant, 'custom', id),
    platform: 'custom',
    platform_native_id: native,
    owner: { oidc_sub: 'o1', attested_at: at, attestation_method: 'registration', status: 'live' },
    status: 'active',
    version: 1,
    created_at: at,
    valid_from: at,
    credential_generation: 1,
    changed_by: 'test',
    change_reason: 'registered',
  };
}
function change(r: AgentRecord, kind: InventoryChange['change'] = 'registered'): InventoryChange {
  return {
    event_id: newId('evt'),
    tenant_id: r.tenant_id,
    agent_id: r.agent_id,
    change: kind,
    version: r.version,
    status: r.status,
    at: new Date().toISOString(),
    actor: 'test',
    correlation_id: 'c',
    trace_id: 't',
  };
}

describe('DynamoInventoryStore (against moto)', () => {
  let env: Record<string, string>;
  let store: DynamoInventoryStore;
  let queueUrl: string;

  beforeAll(async () => {
    ({ env } = await provisionTestStack());
    // Observe the bus the way a consumer would: a rule → SQS target.
    const sqs = new SQSClient({});
    const q = await sqs.send(new CreateQueueCommand({ QueueName: `${env.ARX_EVENT_BUS}-observer` }));
    queueUrl = q.QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    const eb = new EventBridgeClient({});
    await eb.send(
      new PutRuleCommand({
        Name: `${env.ARX_EVENT_BUS}-obs`,
        EventBusName: env.ARX_EVENT_BUS,
        EventPattern: JSON.stringify({ source: ['arx'] }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: `${env.ARX_EVENT_BUS}-obs`,
        EventBusName: env.ARX_EVENT_BUS,
        Targets: [{ Id: 'q', Arn: arn }],
      }),
    );
    store = new DynamoInventoryStore(
      env.ARX_INVENTORY_TABLE!,
      env.ARX_CONTROL_TABLE!,
      new Outbox(env.ARX_CONTROL_TABLE!, new EventBridgePublisher(env.ARX_EVENT_BUS!)),
    );
  });

  it('keeps every version (SCD type 2) and closes the previous one on update', async () => {
    const r = record('acme', 'scd');
    await store.create(r, change(r));
    const v2 = await store.update(
      r,
      { status: 'suspended' },
      { at: new Date().toISOString(), actor: 'admin', reason: 'test', change: change(r, 'status') },
    );
    expect(v2.version).toBe(2);
    const hist = await store.history('acme', r.agent_id);
    expect(hist.map((h) => [h.version, h.status])).toEqual([
      [1, 'active'],
      [2, 'suspended'],
    ]);
    expect(hist[0]!.valid_to).toBe(v2.valid_from);
    expect(hist[1]!.valid_to).toBeUndefined();
    expect((await store.get('acme', r.agent_id))!.status).toBe('suspended');
  });

  it('refuses a stale update (optimistic concurrency) and a disallowed status transition, writing nothing', async () => {
    const r = record('acme', 'occ');
    await store.create(r, change(r));
    await store.update(
      r,
      { cohort: 'a' },
      { at: new Date().toISOString(), actor: 'x', reason: 'r', change: change(r, 'updated') },
    );
    await expect(
      store.update(
        r,
        { cohort: 'b' },
        { at: new Date().toISOString(), actor: 'x', reason: 'r', change: change(r, 'updated') },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    const cur = (await store.get('acme', r.agent_id))!;
    await expect(
      store.update(
        cur,
        { status: 'terminated' },
        { at: new Date().toISOString(), actor: 'x', reason: 'r', change: change(cur, 'status') },
        { requireStatusIn: ['suspended'] },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await store.history('acme', r.agent_id)).length).toBe(2);
  });

  it('publishes inventory.change to the bus and leaves nothing in the outbox', async () => {
    const r = record('acme', 'pub');
    await store.create(r, change(r));
    const sqs = new SQSClient({});
    const seen: string[] = [];
    for (let i = 0; i < 10 && !seen.includes(r.agent_id); i++) {
      const m = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const msg of m.Messages ?? []) seen.push(JSON.parse(msg.Body!).detail.agent_id);
    }
    expect(seen).toContain(r.agent_id);
  });

  it('keeps the event in the outbox when the bus is down, and the relay publishes it later', async () => {
    const failing: EventPublisher = {
      publish: async () => {
        throw new Error('bus down');
      },
    };
    const published: string[] = [];
    const recording: EventPublisher = {
      publish: async (_t, d) => {
        published.push(d.event_id);
      },
    };
    const down = new DynamoInventoryStore(
      env.ARX_INVENTORY_TABLE!,
      env.ARX_CONTROL_TABLE!,
      new Outbox(env.ARX_CONTROL_TABLE!, failing),
    );
    const r = record('acme', 'outbox');
    const c = change(r);
    await down.create(r, c);
    expect((await store.get('acme', r.agent_id))!.agent_id).toBe(r.agent_id);
    const left = await ddb.send(
      new QueryCommand({
        TableName: env.ARX_CONTROL_TABLE,
        KeyConditionExpression: 'pk = :p AND sk = :s',
        ExpressionAttributeValues: { ':p': outboxPk('acme'), ':s': c.event_id },
      }),
    );
    expect(left.Items).toHaveLength(1);
    const relay = new Outbox(env.ARX_CONTROL_TABLE!, recording);
    expect(await relay.relay(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(1);
    expect(published).toContain(c.event_id);
    const after = await ddb.send(
      new QueryCommand({
        TableName: env.ARX_CONTROL_TABLE,
        KeyConditionExpression: 'pk = :p AND sk = :s',
        ExpressionAttributeValues: { ':p': outboxPk('acme'), ':s': c.event_id },
      }),
    );
    expect(after.Items).toHaveLength(0);
    expect(await relay.relay(new Date(Date.now() + 60_000))).toBe(0);
    expect(published.filter((id) => id === c.event_id)).toHaveLength(1);
  });

  it('refuses a duplicate (platform, native id) and an extra write whose condition fails, atomically', async () => {
    const r = record('acme', 'atomic');
    await ddb.send(new PutCommand({ TableName: env.ARX_CONTROL_TABLE, Item: { pk: 'TAKEN', sk: 'BOOT' } }));
    await expect(
      store.create(r, change(r), [
        { table: env.ARX_CONTROL_TABLE!, item: { pk: 'TAKEN', sk: 'BOOT' }, condition: 'attribute_not_exists(pk)' },
      ]),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await store.get('acme', r.agent_id)).toBeNull();
    const r2 = record('acme', 'atomic2');
    await store.create(r2, change(r2));
    const dup = { ...record('acme', 'atomic2') };
    await expect(store.create(dup, change(dup))).rejects.toBeInstanceOf(ConflictError);
    expect(await store.get('acme', dup.agent_id)).toBeNull();
  });
});
