import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SAGA_FUNCTIONS } from '../lambdas/killswitch/topology.js';
import { ArxStateMachine } from './arx-state-machine.js';
import type { ArxFunctions, ResourceRegistry } from './bindings.js';

/** Longest a best-effort step may keep retrying (seed C6.1: "retried with exponential backoff for up to 24h"). */
export const MAX_RETRY_BUDGET = Duration.hours(24);

/** Retry policy of saga steps 3–7 (ASL Retry: IntervalSeconds, BackoffRate, MaxAttempts, MaxDelaySeconds). */
export interface SagaRetryConfig {
  /** @default Duration.seconds(2) */
  readonly interval?: Duration;
  /** @default 2 */
  readonly backoffRate?: number;
  /** @default 30 (≈ 20 h of backoff with the other defaults) */
  readonly maxAttempts?: number;
  /** @default Duration.hours(1) */
  readonly maxDelay?: Duration;
}

/** Raised at synth time when a retry policy could keep a step retrying for more than 24 hours. */
export class RetryBudgetError extends Error {
  override readonly name = 'RetryBudgetError';
}

/** Worst-case total wait (seconds) of a retry policy: Σ min(interval·rate^k, maxDelay), k < maxAttempts. */
export function retryBudgetSeconds(r: Required<SagaRetryConfig>): number {
  let total = 0;
  for (let k = 0; k < r.maxAttempts; k++)
    total += Math.min(r.interval.toSeconds() * r.backoffRate ** k, r.maxDelay.toSeconds());
  return total;
}

export function resolveRetry(r: SagaRetryConfig = {}): Required<SagaRetryConfig> {
  const resolved: Required<SagaRetryConfig> = {
    interval: r.interval ?? Duration.seconds(2),
    backoffRate: r.backoffRate ?? 2,
    maxAttempts: r.maxAttempts ?? 30,
    maxDelay: r.maxDelay ?? Duration.hours(1),
  };
  if (resolved.backoffRate < 1 || resolved.maxAttempts < 0 || resolved.maxAttempts > 99) {
    throw new RetryBudgetError('kill-switch retry: backoffRate must be ≥ 1 and maxAttempts within 0..99');
  }
  const budget = retryBudgetSeconds(resolved);
  if (budget > MAX_RETRY_BUDGET.toSeconds()) {
    throw new RetryBudgetError(
      `kill-switch retry policy could retry a step for ${Math.round(budget / 3600)} h; the bound is 24 h (lower maxAttempts or maxDelay)`,
    );
  }
  return resolved;
}

export interface KillSwitchProps {
  /** Registry the termination state machine is registered in (ARX_TERMINATION_STATE_MACHINE_ARN). */
  readonly registry: ResourceRegistry;
  /** The topology's functions: the termination saga's task implementations are taken from here. */
  readonly functions: ArxFunctions;
  /**
   * Retry of steps 3–7 before they are recorded `failed` (partial_failure). Also read from the
   * CDK context key `arx:killswitch:retry` ({intervalSeconds, backoffRate, maxAttempts, maxDelaySeconds}).
   * @default see SagaRetryConfig
   */
  readonly retry?: SagaRetryConfig;
}

/**
 * C6 kill switch: the termination saga, a Step Functions STANDARD workflow (execution name =
 * termination id, so a second start of the same termination is refused by Step Functions):
 *
 * 1. inventory `terminated` and 2. revocation-list entry — fail-closed: retried briefly, never
 *    caught, never compensated (a failure fails the execution);
 * 3. credentials, 4. platform kill, 5. drain — in parallel branches; 6. audit event;
 *    7. exit attestation — each retried with bounded exponential backoff, then caught into
 *    "record failure" (the step becomes `failed`, the termination `partial_failure`) and continued;
 * finally the status is settled and `agent.terminated.completed` published.
 *
 * Built when the topology has the saga's functions (SAGA_FUNCTIONS); logs and X-Ray via ArxStateMachine.
 */
export class KillSwitch extends Construct {
  /** The termination saga, once added. */
  terminationStateMachine?: sfn.IStateMachine;
  /** The saga workflow construct (log group, state machine), when built from the topology. */
  readonly saga?: ArxStateMachine;
  protected readonly registry: ResourceRegistry;
  protected readonly functions: ArxFunctions;

  constructor(scope: Construct, id: string, props: KillSwitchProps) {
    super(scope, id);
    this.registry = props.registry;
    this.functions = props.functions;
    const names = Object.values(SAGA_FUNCTIONS);
    if (names.every((n) => props.functions.byName.has(n))) {
      const retry = resolveRetry(props.retry ?? retryFromContext(this));
      this.saga = new ArxStateMachine(this, 'Termination', {
        definitionBody: sfn.DefinitionBody.fromChainable(this.definition(retry)),
        comment: 'ARX termination saga (C6): steps 1-2 fail-closed, 3-7 retried then recorded as partial_failure',
        // Three sequential retry phases (3-5 in parallel, 6, 7), each bounded by the retry budget.
        timeout: Duration.seconds(Math.ceil(3 * retryBudgetSeconds(retry) + 3600)),
      });
      this.setTerminationStateMachine(this.saga.stateMachine);
    }
  }

  /** Publishes the saga as `terminationStateMachine` for function bindings. Call once. */
  setTerminationStateMachine(sm: sfn.IStateMachine): void {
    if (this.terminationStateMachine) throw new Error('termination state machine already set');
    this.terminationStateMachine = sm;
    this.registry.registerStateMachine('terminationStateMachine', sm);
  }

  private definition(retry: Required<SagaRetryConfig>): sfn.IChainable {
    const ids = {
      termination_id: sfn.JsonPath.stringAt('$.termination_id'),
      tenant_id: sfn.JsonPath.stringAt('$.tenant_id'),
    };
    const task = (id: string, fn: string, extra: Record<string, unknown> = {}) =>
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.functions.get(fn).function,
        payload: sfn.TaskInput.fromObject({ ...ids, ...extra }),
        resultPath: sfn.JsonPath.DISCARD,
        retryOnServiceExceptions: true,
      });
    const failClosed = (id: string, fn: string) =>
      task(id, fn).addRetry({ errors: ['States.ALL'], interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 3 });
    const withRecord = (
      id: string,
      step: string,
      fn: string,
    ): { task: sfn.TaskStateBase; record: sfn.TaskStateBase } => {
      const record = task(`Record ${step} failure`, SAGA_FUNCTIONS.recordFailure, {
        step,
        error: sfn.JsonPath.objectAt('$.error'),
      }).addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: 5,
      });
      const t = task(id, fn)
        .addRetry({
          errors: ['States.ALL'],
          interval: retry.interval,
          backoffRate: retry.backoffRate,
          maxAttempts: retry.maxAttempts,
          maxDelay: retry.maxDelay,
        })
        .addCatch(record, { errors: ['States.ALL'], resultPath: '$.error' });
      return { task: t, record };
    };

    const bestEffort = (id: string, step: string, fn: string): sfn.IChainable =>
      sfn.Chain.start(withRecord(id, step, fn).task);

    const inventory = failClosed('1 Inventory terminated', SAGA_FUNCTIONS.inventory);
    const revocation = failClosed('2 Revocation list entry', SAGA_FUNCTIONS.revocation);
    const cut = new sfn.Parallel(this, '3-5 Revoke credentials, kill on platform, drain', {
      resultPath: sfn.JsonPath.DISCARD,
    })
      .branch(bestEffort('3 Revoke credentials', 'credentials', SAGA_FUNCTIONS.credentials))
      .branch(bestEffort('4 Platform kill', 'platform', SAGA_FUNCTIONS.platform))
      .branch(bestEffort('5 Drain', 'drain', SAGA_FUNCTIONS.drain));
    const audit = withRecord('6 Audit event', 'audit', SAGA_FUNCTIONS.audit);
    const attestation = withRecord('7 Exit attestation', 'attestation', SAGA_FUNCTIONS.attestation);
    const finalize = task('Finalize', SAGA_FUNCTIONS.finalize).addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 5,
    });

    audit.task.next(attestation.task);
    audit.record.next(attestation.task);
    attestation.task.next(finalize);
    attestation.record.next(finalize);
    return sfn.Chain.start(inventory).next(revocation).next(cut).next(audit.task);
  }
}

function retryFromContext(scope: Construct): SagaRetryConfig {
  const c = scope.node.tryGetContext('arx:killswitch:retry') as
    | { intervalSeconds?: number; backoffRate?: number; maxAttempts?: number; maxDelaySeconds?: number }
    | undefined;
  if (!c) return {};
  return {
    ...(c.intervalSeconds !== undefined ? { interval: Duration.seconds(Number(c.intervalSeconds)) } : {}),
    ...(c.backoffRate !== undefined ? { backoffRate: Number(c.backoffRate) } : {}),
    ...(c.maxAttempts !== undefined ? { maxAttempts: Number(c.maxAttempts) } : {}),
    ...(c.maxDelaySeconds !== undefined ? { maxDelay: Duration.seconds(Number(c.maxDelaySeconds)) } : {}),
  };
}
