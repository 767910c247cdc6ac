import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Access } from '../lambdas/shared/topology-types.js';
import type { ArxFunction } from './arx-function.js';
import { addIam5Acks, type ArxFunctions, type ResourceRegistry, type SharedHandles } from './bindings.js';

/** Environment variable naming the Secrets Manager prefix of connector secrets. */
export const SECRET_PREFIX_ENV = 'ARX_SECRET_PREFIX';

export interface ActionsProps {
  /** Registry the approval state machine is registered in (ARX_APPROVAL_STATE_MACHINE_ARN). */
  readonly registry: ResourceRegistry;
  /** Shared platform handles (bus, control table, data key). */
  readonly shared: SharedHandles;
  /** The topology's functions (approval workflow tasks come from here). */
  readonly functions: ArxFunctions;
  /**
   * Secrets Manager name prefix of connector secrets (`<prefix><tenant>/<connector>`).
   * @default 'arx/'
   */
  readonly secretPrefix?: string;
}

/**
 * Governed actions and approvals. The approval workflow (state machine, queues) is added here by
 * the actions capability via `setApprovalStateMachine`; connector secrets live in Secrets Manager
 * under `secretPrefix`, granted per function with `grantSecrets`.
 */
export class Actions extends Construct {
  /** Secrets Manager name prefix of connector secrets. */
  readonly secretPrefix: string;
  /** The approval workflow, once added. */
  approvalStateMachine?: sfn.IStateMachine;
  protected readonly registry: ResourceRegistry;
  protected readonly functions: ArxFunctions;
  protected readonly shared: SharedHandles;

  constructor(scope: Construct, id: string, props: ActionsProps) {
    super(scope, id);
    this.registry = props.registry;
    this.functions = props.functions;
    this.shared = props.shared;
    this.secretPrefix = props.secretPrefix ?? 'arx/';
    // Connector and channel secrets (`arx/<tenant>/connectors/<name>`, `arx/<tenant>/slack|email|webhook`):
    // the API stores them (PUT /v1/connectors/{c}, PUT /v1/approvals/channels/{c}); the others read them at call time.
    for (const [name, access] of [
      ['actions-api', 'write'],
      ['actions-callbacks', 'read'],
      ['actions-expiry-sweeper', 'read'],
    ] as const) {
      if (this.functions.byName.has(name)) this.grantSecrets(this.functions.get(name), access);
    }
  }

  /** Publishes the approval workflow as `approvalStateMachine` for function bindings. Call once. */
  setApprovalStateMachine(sm: sfn.IStateMachine): void {
    if (this.approvalStateMachine) throw new Error('approval state machine already set');
    this.approvalStateMachine = sm;
    this.registry.registerStateMachine('approvalStateMachine', sm);
  }

  /**
   * read: GetSecretValue/DescribeSecret; write: also create/put/tag/delete — on secrets under the
   * prefix only. Sets ARX_SECRET_PREFIX on the function when its handler reads it.
   */
  grantSecrets(fn: ArxFunction, access: Access): void {
    const actions = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
    if (access === 'write') {
      actions.push(
        'secretsmanager:CreateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
        'secretsmanager:DeleteSecret',
      );
    }
    const arn = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.secretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.function.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [arn] }));
    fn.bindSetting(SECRET_PREFIX_ENV, this.secretPrefix);
    addIam5Acks(fn.role, [
      {
        appliesTo: `Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.secretPrefix}*`,
        reason:
          'Connector secrets are created per tenant and connector at runtime; access is limited to the ARX secret name prefix.',
      },
    ]);
  }
}
