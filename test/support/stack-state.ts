/**
 * Everything the handlers can write in a provisioned emulator stack, read back as one comparable
 * value: every item of every DynamoDB table, every object version (and delete marker) of every
 * bucket, every event put on the stack's bus (captured by a catch-all rule into a queue), the
 * executions of its state machines, Secrets Manager secrets and KMS keys. Used to show that a
 * refused request changed nothing. (The stack's own SQS queues are event-delivery buffers and
 * DLQs: no handler under lambdas/ has an SQS client, so what reaches them goes through the bus.)
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { S3Client, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { SecretsManagerClient, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import type { ProvisionedStack } from '../../local/provision.js';

export interface StackState {
  readonly tables: Record<string, string[]>;
  readonly objects: Record<string, string[]>;
  readonly executions: Record<string, string[]>;
  readonly secrets: string[];
  readonly keys: string[];
}

/** Reads the state of `stack`; `drainEvents()` returns (and removes) the bus events seen since the last call. */
export async function stackStateReader(
  stack: ProvisionedStack,
): Promise<{ read(): Promise<StackState>; drainEvents(): Promise<string[]> }> {
  const ddb = new DynamoDBClient({});
  const s3 = new S3Client({ forcePathStyle: true });
  const sqs = new SQSClient({});
  const sfn = new SFNClient({});
  const sm = new SecretsManagerClient({});
  const kms = new KMSClient({});
  const of = (type: string) => [...stack.resources.values()].filter((r) => r.type === type);
  const tables = [...of('AWS::DynamoDB::Table'), ...of('AWS::DynamoDB::GlobalTable')].map((r) => r.ref);
  const buckets = of('AWS::S3::Bucket').map((r) => r.ref);
  const machines = of('AWS::StepFunctions::StateMachine').map((r) => r.ref);
  const buses = of('AWS::Events::EventBus').map((r) => r.ref);
  if (!tables.length || !buckets.length || !buses.length)
    throw new Error('stack-state: the provisioned stack has no tables, buckets or bus');

  // A catch-all rule per bus into one capture queue: every PutEvents the handlers make lands there.
  const capture = await sqs.send(new CreateQueueCommand({ QueueName: `cap-${randomBytes(6).toString('hex')}` }));
  const captureArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: capture.QueueUrl!, AttributeNames: ['QueueArn'] }))
  ).Attributes!.QueueArn!;
  const eb = new EventBridgeClient({});
  for (const bus of buses) {
    const rule = `cap-${randomBytes(6).toString('hex')}`;
    await eb.send(
      new PutRuleCommand({
        Name: rule,
        EventBusName: bus,
        EventPattern: JSON.stringify({ source: [{ prefix: '' }] }),
        State: 'ENABLED',
      }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: rule, EventBusName: bus, Targets: [{ Id: 'capture', Arn: captureArn }] }),
    );
  }

  const scan = async (table: string): Promise<string[]> => {
    const out: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const r = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const i of r.Items ?? []) out.push(stable(i));
      start = r.LastEvaluatedKey;
    } while (start);
    return out.sort();
  };
  const versions = async (bucket: string): Promise<string[]> => {
    const out: string[] = [];
    let key: string | undefined;
    let vid: string | undefined;
    for (;;) {
      const r = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: key, VersionIdMarker: vid }));
      for (const v of r.Versions ?? []) out.push(`v ${v.Key} ${v.VersionId} ${v.ETag} ${v.Size}`);
      for (const m of r.DeleteMarkers ?? []) out.push(`d ${m.Key} ${m.VersionId}`);
      if (!r.IsTruncated) break;
      key = r.NextKeyMarker;
      vid = r.NextVersionIdMarker;
    }
    return out.sort();
  };
  const executions = async (arn: string): Promise<string[]> =>
    ((await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1000 }))).executions ?? [])
      .map((e) => e.executionArn!)
      .sort();

  const read = async (): Promise<StackState> => {
    const [t, o, e, s, k] = await Promise.all([
      Promise.all(tables.map(async (n) => [n, await scan(n)] as const)),
      Promise.all(buckets.map(async (n) => [n, await versions(n)] as const)),
      Promise.all(machines.map(async (n) => [n, await executions(n)] as const)),
      sm
        .send(new ListSecretsCommand({ MaxResults: 100 }))
        .then((r) =>
          (r.SecretList ?? []).map((x) => `${x.Name} ${JSON.stringify(x.SecretVersionsToStages ?? {})}`).sort(),
        ),
      kms.send(new ListKeysCommand({ Limit: 1000 })).then((r) => (r.Keys ?? []).map((x) => x.KeyId!).sort()),
    ]);
    return {
      tables: Object.fromEntries(t),
      objects: Object.fromEntries(o),
      executions: Object.fromEntries(e),
      secrets: s,
      keys: k,
    };
  };

  const drainEvents = async (): Promise<string[]> => {
    const seen: string[] = [];
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: capture.QueueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const msgs = r.Messages ?? [];
      if (!msgs.length) return seen;
      for (const m of msgs) seen.push(m.Body ?? '');
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: capture.QueueUrl!,
          Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  };
  return { read, drainEvents };
}

/** JSON with sorted keys, so two reads of the same item compare equal. */
function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

/**
 * Lines that differ between two states (empty when equal), for a readable failure. Secrets and KMS
 * keys are account-wide in the emulator, which other suites share while this one runs:
 * `accountWide: false` compares only this stack's own tables, buckets and executions.
 */
export function stateDiff(a: StackState, b: StackState, opts: { accountWide?: boolean } = {}): string[] {
  const out: string[] = [];
  const cmp = (
    what: string,
    x: Record<string, string[] | string> | string[],
    y: Record<string, string[] | string> | string[],
  ) => {
    const xa = x as Record<string, unknown>;
    const ya = y as Record<string, unknown>;
    for (const k of new Set([...Object.keys(xa), ...Object.keys(ya)])) {
      const p = xa[k];
      const q = ya[k];
      if (JSON.stringify(p) === JSON.stringify(q)) continue;
      if (Array.isArray(p) && Array.isArray(q)) {
        const ps = new Set(p as string[]);
        const qs = new Set(q as string[]);
        for (const i of q as string[]) if (!ps.has(i)) out.push(`${what} ${k}: + ${i.slice(0, 300)}`);
        for (const i of p as string[]) if (!qs.has(i)) out.push(`${what} ${k}: - ${i.slice(0, 300)}`);
      } else out.push(`${what} ${k}: ${JSON.stringify(p)} → ${JSON.stringify(q)}`);
    }
  };
  cmp('table', a.tables, b.tables);
  cmp('bucket', a.objects, b.objects);
  cmp('executions', a.executions, b.executions);
  if (opts.accountWide !== false) {
    cmp('secrets', { all: a.secrets }, { all: b.secrets });
    cmp('kms', { all: a.keys }, { all: b.keys });
  }
  return out;
}
