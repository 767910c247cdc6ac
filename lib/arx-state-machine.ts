import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface ArxStateMachineProps {
  /** The workflow definition (ASL); the local runtime runs the same ASL from the template. */
  readonly definitionBody: sfn.DefinitionBody;
  /** @default 'ARX workflow' */
  readonly comment?: string;
  /**
   * Overall execution timeout.
   * @default Duration.hours(24)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the execution log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Step Functions STANDARD workflow the ARX way: execution logs (level ALL, without execution
 * data) to its own log group, X-Ray tracing on. For lib/kill-switch.ts and lib/actions.ts.
 *
 * @example
 * const wf = new ArxStateMachine(this, 'Termination', { definitionBody: sfn.DefinitionBody.fromChainable(chain) });
 * props.registry.registerStateMachine('terminationStateMachine', wf.stateMachine);
 */
export class ArxStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ArxStateMachineProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: props.definitionBody,
      comment: props.comment ?? 'ARX workflow',
      timeout: props.timeout ?? Duration.hours(24),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    NagSuppressions.addResourceSuppressions(
      this.stateMachine.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'CloudWatch Logs delivery (logs:CreateLogDelivery etc.) and X-Ray tracing actions support no resource-level permissions, so their resource is "*".',
          appliesTo: ['Resource::*'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Lambda task grants include <function ARN>:* so every version/alias of the one named task function can be invoked.',
          appliesTo: [{ regex: '/^Resource::<.+\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );
  }
}
