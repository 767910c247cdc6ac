import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { COLD_SPAN_TAG } from '../../lambdas/observability/topology.js';
import { ResourceRegistry } from '../../lib/bindings.js';
import { Observability } from '../../lib/observability.js';
import { buildApp } from '../../lib/synth.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

const coldRule = (bucket: { Properties: any }) =>
  (bucket.Properties.LifecycleConfiguration?.Rules ?? []).find((r: any) => r.Id === 'ColdSpanCopies');

/** Observability alone on a versioned bucket, with the given context and props. */
function observability(
  context: Record<string, unknown> = {},
  props: Partial<ConstructorParameters<typeof Observability>[2]> = {},
) {
  const stack = new Stack(new App({ context }), 'T');
  const bucket = new s3.Bucket(stack, 'Artifacts', { versioned: true });
  new Observability(stack, 'Observability', { registry: new ResourceRegistry(), coldBucket: bucket, ...props });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  return coldRule(Object.values(resources).find((r) => r.Type === 'AWS::S3::Bucket')!);
}

describe('cold span copies: the artifact bucket lifecycle rule', () => {
  let artifact: { Properties: any };
  beforeAll(() => {
    const { stack } = buildApp();
    const resources = Template.fromStack(stack).toJSON().Resources;
    artifact = resources[stack.getLogicalId(stack.audit.artifactBucket.node.defaultChild as any)];
  });

  it('moves the tagged Parquet copies to Glacier Instant Retrieval at 90 days and expires them after 7 years', () => {
    expect(coldRule(artifact)).toEqual({
      Id: 'ColdSpanCopies',
      Status: 'Enabled',
      TagFilters: [{ Key: COLD_SPAN_TAG.key, Value: COLD_SPAN_TAG.value }],
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
      ExpirationInDays: 2557,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    });
    // the rule selects by tag only: nothing else in the shared bucket (compliance packages, content) expires
    expect(coldRule(artifact).Prefix).toBeUndefined();
    expect(artifact.Properties.LifecycleConfiguration.Rules).toHaveLength(1);
  });

  it('takes the retention and transition from props or context (-c arx:coldSpanRetentionDays=400)', () => {
    expect(observability({ 'arx:coldSpanRetentionDays': '400' })).toMatchObject({
      ExpirationInDays: 400,
      Transitions: [{ TransitionInDays: 90 }],
    });
    expect(observability({ 'arx:coldSpanRetentionDays': 365, 'arx:coldSpanTransitionDays': '30' })).toMatchObject({
      ExpirationInDays: 365,
      Transitions: [{ TransitionInDays: 30 }],
    });
    expect(
      observability({ 'arx:coldSpanRetentionDays': '400' }, { coldSpanRetention: Duration.days(3650) }),
    ).toMatchObject({ ExpirationInDays: 3650 });
  });

  it('refuses a retention that is not whole days, or a transition not shorter than the retention', () => {
    expect(() => observability({ 'arx:coldSpanRetentionDays': 'forever' })).toThrow(
      /arx:coldSpanRetentionDays must be a whole number of days/,
    );
    expect(() => observability({ 'arx:coldSpanRetentionDays': '0' })).toThrow(/whole number of days ≥ 1/);
    expect(() => observability({ 'arx:coldSpanRetentionDays': '60' })).toThrow(/shorter than the retention \(60\)/);
    expect(() => observability({}, { coldSpanRetention: Duration.hours(36) })).toThrow(/whole days/);
  });
});
