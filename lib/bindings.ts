import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions, type NagPackSuppression } from 'cdk-nag';
import { Construct } from 'constructs';
import { RESOURCE_ENV, type Access, type FunctionSpec, type ResourceName } from '../lambdas/shared/topology-types.js';
import { ArxFunction, XRAY_ACK } from './arx-function.js';

/** Raised at synth time when a function `uses` a resource no construct has registered. */
export class UnboundResourceError extends Error {
  override readonly name = 'UnboundResourceError';
}

/** cdk-nag IAM5 acknowledgements a grant helper makes necessary, each with its reason. */
export type Iam5Ack = { readonly appliesTo: string | { regex: string }; readonly reason: string };

/**
 * How a named resource is bound to a function: the value of its environment variable (a plain
 * `Ref`/`Fn::GetAtt` token so the local runtime can resolve it from the template) and the grant.
 */
export interface ResourceBinding {
  /** Environment variable value (a plain Ref/GetAtt token). */
  readonly envValue: string;
  /** Grants `access` to the function; returns the IAM5 wildcards the grant introduced. */
  grant(fn: ArxFunction, access: Access): readonly Iam5Ack[];
}

// cdk-nag renders `{"Fn::GetAtt":["X","Arn"]}/index/*` as `Resource::<X.Arn>/index/*`.
const INDEX_WILDCARD: Iam5Ack = {
  appliesTo: { regex: '/^Resource::<.+\\.Arn>\\/index\\/\\*$/g' },
  reason:
    'DynamoDB grant helpers scope index access to <table ARN>/index/* so queries on the table GSIs are allowed; the table is named.',
};
const OBJECT_WILDCARD: Iam5Ack = {
  appliesTo: { regex: '/^Resource::<.+\\.Arn>\\/\\*$/g' },
  reason:
    'S3 object actions apply to <bucket ARN>/* of the one named bucket; object keys are tenant-prefixed at runtime.',
};
const S3_ACTION_WILDCARDS: Iam5Ack[] = ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:Abort*'].map((a) => ({
  appliesTo: `Action::${a}`,
  reason: `${a} comes from the CDK S3 grant helper (read/put object families) and is scoped to one named bucket.`,
}));
const KMS_ACTION_WILDCARDS: Iam5Ack[] = ['kms:GenerateDataKey*', 'kms:ReEncrypt*'].map((a) => ({
  appliesTo: `Action::${a}`,
  reason: `${a} comes from the CDK KMS grant helper (envelope encryption) and is scoped to the one named data key.`,
}));

/**
 * Registry of the stack's named resources (`RESOURCE_ENV`). Capability constructs register what
 * they own; `ArxFunctions.bindResources` grants each function its `uses` and sets the matching
 * environment variable in the same call (Powertools' `bindTable` pattern).
 *
 * @example
 * registry.registerTable('controlTable', table);
 * registry.registerStateMachine('terminationStateMachine', sm); // from lib/kill-switch.ts
 */
export class ResourceRegistry {
  private readonly bindings = new Map<ResourceName, ResourceBinding>();

  register(name: ResourceName, binding: ResourceBinding): void {
    if (this.bindings.has(name)) throw new Error(`resource "${name}" is registered twice`);
    this.bindings.set(name, binding);
  }

  has(name: ResourceName): boolean {
    return this.bindings.has(name);
  }

  registerTable(name: ResourceName, table: dynamodb.ITable): void {
    this.register(name, {
      envValue: table.tableName,
      grant: (fn, access) => {
        if (access === 'write') table.grantReadWriteData(fn.function);
        else table.grantReadData(fn.function);
        return [INDEX_WILDCARD];
      },
    });
  }

  /** Write access is read + put (never delete): audit objects are append-only. */
  registerBucket(name: ResourceName, bucket: s3.IBucket): void {
    this.register(name, {
      envValue: bucket.bucketName,
      grant: (fn, access) => {
        bucket.grantRead(fn.function);
        if (access === 'write') bucket.grantPut(fn.function);
        return [OBJECT_WILDCARD, ...S3_ACTION_WILDCARDS, ...(bucket.encryptionKey ? KMS_ACTION_WILDCARDS : [])];
      },
    });
  }

  /** A symmetric key: read = decrypt, write = encrypt/decrypt/generate data keys. */
  registerDataKey(name: ResourceName, key: kms.IKey): void {
    this.register(name, {
      envValue: key.keyArn,
      grant: (fn, access) => {
        if (access === 'write') key.grantEncryptDecrypt(fn.function);
        else key.grantDecrypt(fn.function);
        return KMS_ACTION_WILDCARDS;
      },
    });
  }

  registerEventBus(name: ResourceName, bus: events.IEventBus): void {
    this.register(name, {
      envValue: bus.eventBusName,
      grant: (fn, access) => {
        if (access === 'write') bus.grantPutEventsTo(fn.function);
        else
          fn.function.addToRolePolicy(
            new iam.PolicyStatement({ actions: ['events:DescribeEventBus'], resources: [bus.eventBusArn] }),
          );
        return [];
      },
    });
  }

  /** read = describe executions; write = also start executions. */
  registerStateMachine(name: ResourceName, sm: sfn.IStateMachine): void {
    this.register(name, {
      envValue: sm.stateMachineArn,
      grant: (fn, access) => {
        sm.grantRead(fn.function);
        if (access === 'write') sm.grantStartExecution(fn.function);
        return [
          {
            appliesTo: {
              regex: '/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.+$/g',
            },
            reason:
              'Step Functions grantRead scopes execution reads to executions of the one named state machine (execution:<name>:*).',
          },
        ];
      },
    });
  }

  /**
   * Grants `access` on `name` to `fn` and sets its environment variable if its handler reads it.
   * @throws UnboundResourceError when no construct registered `name`.
   */
  bind(fn: ArxFunction, name: ResourceName, access: Access): readonly Iam5Ack[] {
    const binding = this.bindings.get(name);
    if (!binding) {
      throw new UnboundResourceError(
        `function "${fn.spec.name}" uses "${name}" (${RESOURCE_ENV[name] ?? 'grant only'}) but no construct provides it yet; ` +
          `register it in the owning construct (e.g. lib/kill-switch.ts or lib/actions.ts) before bindResources() runs.`,
      );
    }
    const acks = binding.grant(fn, access);
    // The grant always; the variable only where the handler reads it (a grant-only use, e.g. the
    // sealer signing with tenant-tagged keys it finds by alias, needs no ARX_SIGNING_KEY_ARN).
    const variable = RESOURCE_ENV[name];
    if (variable) fn.bindSetting(variable, binding.envValue);
    return acks;
  }
}

/** Shared platform handles the capability constructs that add workflows may need. */
export interface SharedHandles {
  /** The ARX event bus (ARX_EVENT_BUS). */
  readonly bus: events.IEventBus;
  /** The generic control table (ARX_CONTROL_TABLE). */
  readonly controlTable: dynamodb.ITable;
  /** The symmetric data key (ARX_DATA_KEY_ARN). */
  readonly dataKey: kms.IKey;
}

export interface ArxFunctionsProps {
  /** The function specs to create (one ArxFunction each). */
  readonly functions: readonly FunctionSpec[];
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** The resource registry `bindResources` reads. */
  readonly registry: ResourceRegistry;
  /**
   * Encrypt the functions' log groups with a customer managed key (created here, rotation on).
   * @default true
   */
  readonly encryptLogs?: boolean;
}

/**
 * Creates one ArxFunction per FunctionSpec. Resources are bound in a second step,
 * `bindResources()`, after every capability construct had the chance to register its resources
 * (state machines need the functions first, and functions need the state machine ARNs).
 */
export class ArxFunctions extends Construct {
  /** Functions by topology name. */
  readonly byName: ReadonlyMap<string, ArxFunction>;
  /** The key encrypting every function log group (undefined when `encryptLogs` is false). */
  readonly logsKey?: kms.Key;
  private readonly registry: ResourceRegistry;
  private bound = false;

  constructor(scope: Construct, id: string, props: ArxFunctionsProps) {
    super(scope, id);
    this.registry = props.registry;
    if (props.encryptLogs ?? true) this.logsKey = logsKey(this);
    const map = new Map<string, ArxFunction>();
    for (const spec of props.functions) {
      map.set(
        spec.name,
        new ArxFunction(this, pascal(spec.name), {
          spec,
          projectRoot: props.projectRoot,
          logEncryptionKey: this.logsKey,
        }),
      );
    }
    this.byName = map;
  }

  /** The function named `name` in the topology. */
  get(name: string): ArxFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new Error(`no ARX function named "${name}" in the topology`);
    return fn;
  }

  /** Grants each function its `uses` (setting the env vars) and its `extraPermissions`. Runs once. */
  bindResources(): void {
    if (this.bound) throw new Error('ArxFunctions.bindResources() already ran');
    this.bound = true;
    for (const fn of this.byName.values()) {
      const acks: Iam5Ack[] = [XRAY_ACK];
      for (const [name, access] of Object.entries(fn.spec.uses) as [ResourceName, Access][]) {
        acks.push(...this.registry.bind(fn, name, access));
      }
      for (const p of fn.spec.extraPermissions ?? []) {
        fn.function.addToRolePolicy(
          new iam.PolicyStatement({
            actions: p.actions,
            resources: p.resources,
            ...(p.conditions ? { conditions: p.conditions } : {}),
          }),
        );
        for (const w of [...p.actions.map((a) => `Action::${a}`), ...p.resources.map((r) => `Resource::${r}`)]) {
          if (w.includes('*')) acks.push({ appliesTo: w, reason: p.reason });
        }
      }
      addIam5Acks(fn.role, acks);
    }
  }
}

/** A rotating symmetric key CloudWatch Logs may use for this account's and region's log groups. */
function logsKey(scope: Construct): kms.Key {
  const stack = Stack.of(scope);
  const key = new kms.Key(scope, 'LogsKey', {
    description: 'ARX function log groups',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  return key;
}

/**
 * Adds IAM5 acknowledgements to a role and its default policy, one per `appliesTo`; reasons of
 * acknowledgements sharing an `appliesTo` are joined so the report states every cause.
 */
export function addIam5Acks(role: iam.IRole, acks: readonly Iam5Ack[]): void {
  const seen = new Map<string, Iam5Ack>();
  for (const a of acks) {
    const k = JSON.stringify(a.appliesTo);
    const prev = seen.get(k);
    if (!prev) seen.set(k, a);
    else if (!prev.reason.includes(a.reason))
      seen.set(k, { appliesTo: a.appliesTo, reason: `${prev.reason} Also: ${a.reason}` });
  }
  if (seen.size === 0) return;
  const suppressions: NagPackSuppression[] = [...seen.values()].map((a) => ({
    id: 'AwsSolutions-IAM5',
    reason: a.reason,
    appliesTo: [a.appliesTo],
  }));
  NagSuppressions.addResourceSuppressions(role, suppressions, true);
}

/** `discovery-api` → `DiscoveryApi` (construct ids). */
export function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}
