import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { EVENT_SOURCE, type EventSubscriptionSpec, type ScheduleSpec } from '../lambdas/shared/topology-types.js';
import type { ArxFunctions, ResourceRegistry } from './bindings.js';
import { pascal } from './bindings.js';

/** `rate(N minute|minutes|hour|hours|day|days)` — the forms the local runtime also runs. */
export const RATE_PATTERN = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;

export interface ArxEventBusProps {
  /** Registry the bus is registered in (ARX_EVENT_BUS). */
  readonly registry: ResourceRegistry;
  /**
   * Retries of a failed delivery to a target before it goes to the target's DLQ.
   * @default 8
   */
  readonly retryAttempts?: number;
  /**
   * Maximum age of an event still being retried.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
}

/**
 * The ARX custom EventBridge bus, one rule per event subscription (source `arx`, the listed
 * detail-types) and one scheduled rule per schedule, each Lambda target with retries and its own
 * encrypted SQS dead-letter queue.
 */
export class ArxEventBus extends Construct {
  readonly bus: events.EventBus;
  /** Rules by subscription/schedule name. */
  readonly rules = new Map<string, events.Rule>();
  /** Dead-letter queues by subscription/schedule name. */
  readonly deadLetterQueues = new Map<string, sqs.Queue>();
  /** One alarm per DLQ: in ALARM as soon as an event could not be delivered. */
  readonly deadLetterAlarms = new Map<string, cloudwatch.Alarm>();
  private readonly retryAttempts: number;
  private readonly maxEventAge: Duration;

  constructor(scope: Construct, id: string, props: ArxEventBusProps) {
    super(scope, id);
    this.retryAttempts = props.retryAttempts ?? 8;
    this.maxEventAge = props.maxEventAge ?? Duration.hours(6);
    this.bus = new events.EventBus(this, 'Bus', { description: 'ARX domain events (source "arx")' });
    props.registry.registerEventBus('bus', this.bus);
  }

  /** One rule on the ARX bus per subscription, delivering to the named function. */
  addSubscriptions(subs: readonly EventSubscriptionSpec[], functions: ArxFunctions): void {
    for (const s of subs) {
      if (s.detailTypes.length === 0) throw new Error(`event subscription ${s.name} lists no detail-types`);
      const id = pascal(s.name);
      const rule = new events.Rule(this, `Sub${id}`, {
        // A rule without eventBus is on the account's default bus (AWS service / CloudTrail events).
        ...(s.bus === 'default' ? {} : { eventBus: this.bus }),
        description: `${s.name} → ${s.fn}`,
        eventPattern: {
          source: [...(s.sources ?? [EVENT_SOURCE])],
          detailType: [...s.detailTypes],
          ...(s.detail ? { detail: { ...s.detail } } : {}),
        },
      });
      if (s.allManagementEvents)
        (rule.node.defaultChild as events.CfnRule).state = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
      rule.addTarget(this.target(s.name, id, functions, s.fn));
      this.rules.set(s.name, rule);
    }
  }

  /** One scheduled rule (on the default bus, where schedules run) per schedule. */
  addSchedules(schedules: readonly ScheduleSpec[], functions: ArxFunctions): void {
    for (const s of schedules) {
      if (!RATE_PATTERN.test(s.rate)) {
        throw new Error(`schedule ${s.name}: "${s.rate}" is not rate(N minute|minutes|hour|hours|day|days)`);
      }
      const id = pascal(s.name);
      const rule = new events.Rule(this, `Schedule${id}`, {
        description: `${s.name} (${s.rate}) → ${s.fn}`,
        schedule: events.Schedule.expression(s.rate),
      });
      rule.addTarget(this.target(s.name, id, functions, s.fn));
      this.rules.set(s.name, rule);
    }
  }

  private target(name: string, id: string, functions: ArxFunctions, fnName: string): targets.LambdaFunction {
    const dlq = new sqs.Queue(this, `Dlq${id}`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(dlq, [
      {
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself the dead-letter queue of the ${name} EventBridge target.`,
      },
    ]);
    this.deadLetterQueues.set(name, dlq);
    this.deadLetterAlarms.set(
      name,
      new cloudwatch.Alarm(this, `Dlq${id}Alarm`, {
        alarmDescription: `ARX: events for ${name} (${fnName}) were dead-lettered after ${this.retryAttempts} retries`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    return new targets.LambdaFunction(functions.get(fnName).function, {
      deadLetterQueue: dlq,
      retryAttempts: this.retryAttempts,
      maxEventAge: this.maxEventAge,
    });
  }
}
