import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ArxFunctions, ResourceRegistry } from './bindings.js';

export interface KillSwitchProps {
  /** Registry the termination state machine is registered in (ARX_TERMINATION_STATE_MACHINE_ARN). */
  readonly registry: ResourceRegistry;
  /** The topology's functions: the termination saga's task implementations are taken from here. */
  readonly functions: ArxFunctions;
}

/**
 * C6 kill switch. The termination saga (a Step Functions STANDARD workflow) is added here by the
 * kill-switch capability: build the chain from `this.functions` tasks, wrap it in
 * `ArxStateMachine` (lib/arx-state-machine.ts) and call `setTerminationStateMachine`. Until then
 * any function that `uses` terminationStateMachine fails synth with a clear message.
 */
export class KillSwitch extends Construct {
  /** The termination saga, once added. */
  terminationStateMachine?: sfn.IStateMachine;
  protected readonly registry: ResourceRegistry;
  protected readonly functions: ArxFunctions;

  constructor(scope: Construct, id: string, props: KillSwitchProps) {
    super(scope, id);
    this.registry = props.registry;
    this.functions = props.functions;
  }

  /** Publishes the saga as `terminationStateMachine` for function bindings. Call once. */
  setTerminationStateMachine(sm: sfn.IStateMachine): void {
    if (this.terminationStateMachine) throw new Error('termination state machine already set');
    this.terminationStateMachine = sm;
    this.registry.registerStateMachine('terminationStateMachine', sm);
  }
}
