// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template properties are untyped JSON
import { createHash } from 'node:crypto';
import {
  DynamoDBClient,
  CreateTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  S3Client,
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
} from '@aws-sdk/client-s3';
import {
  KMSClient,
  CreateKeyCommand,
  CreateAliasCommand,
  EnableKeyRotationCommand,
  type KeySpec,
  type KeyUsageType,
} from '@aws-sdk/client-kms';
import { EventBridgeClient, CreateEventBusCommand } from '@aws-sdk/client-eventbridge';
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { SFNClient, CreateStateMachineCommand } from '@aws-sdk/client-sfn';

type Template = { Resources: Record<string, { Type: string; Properties?: any }> };

export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';

/** A provisioned resource: what `Ref` and `Fn::GetAtt` resolve to. */
export interface LocalResource {
  readonly type: string;
  readonly ref: string;
  readonly attrs: Record<string, string>;
}

export interface ProvisionedStack {
  readonly resources: Map<string, LocalResource>;
  /** Resolves CloudFormation intrinsics against the provisioned resources. */
  resolve(value: unknown): unknown;
  /** Function logical id → ARX_FUNCTION_NAME. */
  readonly functionNames: Map<string, string>;
}

export interface ProvisionOptions {
  /** Prefix for physical names, so several runtimes can share one emulator. */
  readonly prefix: string;
  /** Where the local runtime serves the HTTP API (what the API's `ApiEndpoint` resolves to). */
  readonly apiUrl?: string;
  readonly clients?: {
    ddb?: DynamoDBClient;
    s3?: S3Client;
    kms?: KMSClient;
    events?: EventBridgeClient;
    sqs?: SQSClient;
    sfn?: SFNClient;
  };
}

function physical(prefix: string, logicalId: string, max = 63): string {
  const base = `${prefix}-${logicalId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (base.length <= max) return base;
  const h = createHash('sha256').update(base).digest('hex').slice(0, 8);
  return `${base.slice(0, max - 9)}-${h}`;
}

/**
 * Creates in the emulator every resource of the synthesised template that the handlers talk to
 * — tables, buckets (with versioning and Object Lock), KMS keys and aliases, the event bus,
 * queues and state machines — with direct API calls (moto's CloudFormation is partial). Lambda
 * functions are not created: the local runtime serves them in-process, so their ARNs resolve to
 * names the runtime recognises.
 */
export async function provisionFromTemplate(template: Template, opts: ProvisionOptions): Promise<ProvisionedStack> {
  const ddb = opts.clients?.ddb ?? new DynamoDBClient({});
  const s3 = opts.clients?.s3 ?? new S3Client({ forcePathStyle: true });
  const kms = opts.clients?.kms ?? new KMSClient({});
  const events = opts.clients?.events ?? new EventBridgeClient({});
  const sqs = opts.clients?.sqs ?? new SQSClient({});
  const sfn = opts.clients?.sfn ?? new SFNClient({});
  const resources = new Map<string, LocalResource>();
  const functionNames = new Map<string, string>();
  const entries = Object.entries(template.Resources);

  const resolve = (v: unknown): unknown => resolveIntrinsics(v, resources);

  // Pass 1: resources that reference nothing we provision.
  for (const [id, r] of entries) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::Lambda::Function': {
        const name = physical(opts.prefix, String(p.Environment?.Variables?.ARX_FUNCTION_NAME ?? id), 64);
        functionNames.set(id, String(p.Environment?.Variables?.ARX_FUNCTION_NAME ?? id));
        resources.set(id, {
          type: r.Type,
          ref: name,
          attrs: { Arn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}` },
        });
        break;
      }
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': {
        const name = physical(opts.prefix, id, 255);
        const input: CreateTableCommandInput = {
          TableName: name,
          AttributeDefinitions: p.AttributeDefinitions,
          KeySchema: p.KeySchema,
          BillingMode: 'PAY_PER_REQUEST',
          ...(p.GlobalSecondaryIndexes?.length
            ? {
                GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map((g: any) => ({
                  IndexName: g.IndexName,
                  KeySchema: g.KeySchema,
                  Projection: g.Projection ?? { ProjectionType: 'ALL' },
                })),
              }
            : {}),
          ...(p.StreamSpecification
            ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } }
            : {}),
        };
        await ignoreExists(() => ddb.send(new CreateTableCommand(input)));
        if (p.TimeToLiveSpecification?.Enabled) {
          await ignoreExists(() =>
            ddb.send(
              new UpdateTimeToLiveCommand({
                TableName: name,
                TimeToLiveSpecification: { Enabled: true, AttributeName: p.TimeToLiveSpecification.AttributeName },
              }),
            ),
          );
        }
        resources.set(id, {
          type: r.Type,
          ref: name,
          attrs: {
            Arn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`,
            StreamArn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}/stream/local`,
          },
        });
        break;
      }
      case 'AWS::S3::Bucket': {
        const name = physical(opts.prefix, id);
        await ignoreExists(() =>
          s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: Boolean(p.ObjectLockEnabled) })),
        );
        if (p.VersioningConfiguration?.Status === 'Enabled' || p.ObjectLockEnabled) {
          await s3.send(
            new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }),
          );
        }
        if (p.ObjectLockEnabled && p.ObjectLockConfiguration?.Rule) {
          await s3.send(
            new PutObjectLockConfigurationCommand({
              Bucket: name,
              ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: p.ObjectLockConfiguration.Rule },
            }),
          );
        }
        resources.set(id, {
          type: r.Type,
          ref: name,
          attrs: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com` },
        });
        break;
      }
      case 'AWS::KMS::Key': {
        const out = await kms.send(
          new CreateKeyCommand({
            KeySpec: (p.KeySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec,
            KeyUsage: (p.KeyUsage ?? 'ENCRYPT_DECRYPT') as KeyUsageType,
            Description: `${opts.prefix} ${id}`,
            Tags: (p.Tags ?? []).map((t: any) => ({ TagKey: t.Key, TagValue: String(t.Value) })),
          }),
        );
        if (p.EnableKeyRotation) await kms.send(new EnableKeyRotationCommand({ KeyId: out.KeyMetadata!.KeyId! }));
        resources.set(id, {
          type: r.Type,
          ref: out.KeyMetadata!.KeyId!,
          attrs: { Arn: out.KeyMetadata!.Arn!, KeyId: out.KeyMetadata!.KeyId! },
        });
        break;
      }
      case 'AWS::Events::EventBus': {
        const name = physical(opts.prefix, id, 256);
        const out = await ignoreExists(() => events.send(new CreateEventBusCommand({ Name: name })));
        const arn =
          (out as { EventBusArn?: string } | undefined)?.EventBusArn ??
          `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${name}`;
        resources.set(id, { type: r.Type, ref: name, attrs: { Arn: arn, Name: name } });
        break;
      }
      case 'AWS::SQS::Queue': {
        const name = physical(opts.prefix, id, 80);
        const out = await sqs.send(new CreateQueueCommand({ QueueName: name }));
        const attrs = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: out.QueueUrl!, AttributeNames: ['QueueArn'] }),
        );
        resources.set(id, {
          type: r.Type,
          ref: out.QueueUrl!,
          attrs: { Arn: attrs.Attributes!.QueueArn!, QueueName: name, QueueUrl: out.QueueUrl! },
        });
        break;
      }
      case 'AWS::IAM::Role':
        resources.set(id, {
          type: r.Type,
          ref: physical(opts.prefix, id, 64),
          attrs: { Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${physical(opts.prefix, id, 64)}` },
        });
        break;
      case 'AWS::ApiGatewayV2::Api':
        resources.set(id, {
          type: r.Type,
          ref: 'local',
          attrs: { ApiEndpoint: opts.apiUrl ?? 'http://127.0.0.1:8787', ApiId: 'local' },
        });
        break;
      case 'AWS::Logs::LogGroup':
        resources.set(id, {
          type: r.Type,
          ref: physical(opts.prefix, id, 512),
          attrs: { Arn: `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:${physical(opts.prefix, id, 512)}` },
        });
        break;
      default:
        break;
    }
  }

  // Pass 2: resources that reference the ones above.
  for (const [id, r] of entries) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::KMS::Alias': {
        const target = String(resolve(p.TargetKeyId));
        const alias = `${String(p.AliasName)}-${opts.prefix}`.replace(/[^a-zA-Z0-9/_-]/g, '-');
        await ignoreExists(() => kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: target })));
        resources.set(id, { type: r.Type, ref: alias, attrs: {} });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const definition =
          typeof p.DefinitionString === 'string' ? p.DefinitionString : String(resolve(p.DefinitionString));
        const name = physical(opts.prefix, id, 80);
        const out = await sfn.send(
          new CreateStateMachineCommand({
            name,
            definition,
            roleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`,
            type: p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
          }),
        );
        resources.set(id, {
          type: r.Type,
          ref: out.stateMachineArn!,
          attrs: { Arn: out.stateMachineArn!, Name: name, Definition: definition },
        });
        break;
      }
      default:
        break;
    }
  }
  return { resources, resolve, functionNames };
}

async function ignoreExists<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const n = (e as { name?: string }).name ?? '';
    if (/AlreadyExists|ResourceInUse|BucketAlreadyOwnedByYou|ResourceExistsException/.test(n)) return undefined;
    throw e;
  }
}

const PSEUDO: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'ArxLocal',
  'AWS::NoValue': '',
};

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub and Fn::Select; unknown references fail loudly. */
export function resolveIntrinsics(v: unknown, resources: Map<string, LocalResource>): unknown {
  if (Array.isArray(v)) return v.map((x) => resolveIntrinsics(x, resources));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const k = keys[0]!;
    const arg = o[k];
    if (k === 'Ref') {
      const name = String(arg);
      if (name in PSEUDO) return PSEUDO[name];
      const r = resources.get(name);
      if (!r) throw new Error(`local runtime: cannot resolve Ref ${name}`);
      return r.ref;
    }
    if (k === 'Fn::GetAtt') {
      const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
      const r = resources.get(id!);
      const val = r?.attrs[attr!];
      if (val === undefined) throw new Error(`local runtime: cannot resolve Fn::GetAtt ${id}.${attr}`);
      return val;
    }
    if (k === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return (resolveIntrinsics(parts, resources) as unknown[]).join(sep);
    }
    if (k === 'Fn::Select') {
      const [i, list] = arg as [number, unknown];
      return (resolveIntrinsics(list, resources) as unknown[])[Number(i)];
    }
    if (k === 'Fn::Sub') {
      const [tpl, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
      return tpl.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (vars && name in vars) return String(resolveIntrinsics(vars[name], resources));
        if (name in PSEUDO) return PSEUDO[name]!;
        const [id, attr] = name.split('.');
        const r = resources.get(id!);
        if (!r) throw new Error(`local runtime: cannot resolve \${${name}}`);
        return attr ? r.attrs[attr]! : r.ref;
      });
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(o[k], resources)]));
}
