import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../lib/synth.js';
import { DiscoveryScanRole, SCAN_ACTIONS } from '../../lib/discovery.js';
import type { ArxStack } from '../../lib/arx-stack.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

let stack: ArxStack;
let resources: Record<string, { Type: string; Properties: any }>;
beforeAll(() => {
  ({ stack } = buildApp());
  resources = Template.fromStack(stack).toJSON().Resources;
});

const fnId = (name: string) =>
  Object.entries(resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.ARX_FUNCTION_NAME === name,
  )![0];
const rulesTo = (name: string) =>
  Object.values(resources).filter(
    (r) =>
      r.Type === 'AWS::Events::Rule' &&
      (r.Properties.Targets ?? []).some((t: any) => t.Arn?.['Fn::GetAtt']?.[0] === fnId(name)),
  );

describe('Discovery (CDK)', () => {
  it('puts the CloudTrail rule on the default bus in the state management events need', () => {
    const [rule, ...more] = rulesTo('discovery-cloudtrail');
    expect(more).toEqual([]);
    expect(rule!.Properties.EventBusName).toBeUndefined(); // the account's default bus
    expect(rule!.Properties.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(rule!.Properties.EventPattern).toMatchObject({
      source: ['aws.bedrock', 'aws.bedrock-agentcore'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['bedrock.amazonaws.com', 'bedrock-agentcore.amazonaws.com'] },
    });
    expect(rule!.Properties.EventPattern.detail.eventName).toEqual(
      expect.arrayContaining([
        'CreateAgent',
        'UpdateAgent',
        'DeleteAgent',
        'CreateAgentRuntime',
        'InvokeModel',
        'InvokeModelWithResponseStream',
        'Converse',
        'ConverseStream',
      ]),
    );
    expect(rule!.Properties.Targets[0].DeadLetterConfig).toBeDefined();
  });

  it('scans on a schedule of at most 10 minutes and on request through the ARX bus', () => {
    const rules = rulesTo('discovery-scan');
    const schedule = rules.find((r) => r.Properties.ScheduleExpression)!;
    const m = /^rate\((\d+) minutes?\)$/.exec(schedule.Properties.ScheduleExpression)!;
    expect(Number(m[1])).toBeLessThanOrEqual(10);
    const requested = rules.find((r) => r.Properties.EventPattern)!;
    expect(requested.Properties.EventPattern).toEqual({ source: ['arx'], 'detail-type': ['discovery.scan.requested'] });
    expect(requested.Properties.EventBusName).toBeDefined();
  });

  it('lets the scanner assume only arx-discovery-scan roles', () => {
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('DiscoveryScan'),
    );
    const stmts = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const assume = stmts.find((s: any) => s.Action === 'sts:AssumeRole');
    expect(assume.Resource).toBe('arn:aws:iam::*:role/arx-discovery-scan*');
  });
});

describe('DiscoveryScanRole', () => {
  const build = () => {
    const app = new App();
    const member = new Stack(app, 'Member', { env: { account: '222222222222', region: 'us-east-1' } });
    new DiscoveryScanRole(member, 'ArxScan', {
      scannerRoleArn: 'arn:aws:iam::111111111111:role/arx-scanner',
      tenantId: 'acme',
    });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    return member;
  };

  it('trusts only the ARX scanner with the tenant as external id, and grants read-only discovery calls', () => {
    const t = Template.fromStack(build());
    t.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'arx-discovery-scan',
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { AWS: 'arn:aws:iam::111111111111:role/arx-scanner' },
            Condition: { StringEquals: { 'sts:ExternalId': 'acme' } },
          }),
        ],
      },
    });
    const actions = Object.values(t.toJSON().Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => s.Action));
    expect(actions.sort()).toEqual([...SCAN_ACTIONS].sort());
    expect(actions.every((a: string) => /:(List|Get)/.test(a))).toBe(true);
  });

  it('is cdk-nag clean and refuses a role name the scanner could not assume', () => {
    const member = build();
    const a = Annotations.fromStack(member);
    expect([
      ...a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ]).toEqual([]);
    expect(
      () =>
        new DiscoveryScanRole(new Stack(new App(), 'X'), 'R', {
          scannerRoleArn: 'arn:aws:iam::1:role/x',
          tenantId: 't',
          roleName: 'other',
        }),
    ).toThrow(/arx-discovery-scan/);
  });
});
