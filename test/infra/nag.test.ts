import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/synth.js';

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning on the ARX stack', () => {
    const { stack } = buildApp({ nag: true });
    const annotations = Annotations.fromStack(stack);
    const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const show = (ms: typeof errors) => ms.map((m) => `${m.id}: ${String(m.entry.data).slice(0, 160)}`);
    expect(show(errors)).toEqual([]);
    expect(show(warnings)).toEqual([]);
  });

  it('acknowledges findings only on specific resources, never on the stack', () => {
    const { app, stack } = buildApp({ nag: true });
    const template = app.synth().getStackByName(stack.stackName).template as { Metadata?: { cdk_nag?: unknown } };
    expect(template.Metadata?.cdk_nag).toBeUndefined();
    // Every acknowledgement carries a concrete reason.
    const json = JSON.stringify(template);
    const reasons = [...json.matchAll(/"reason":"([^"]*)"/g)].map((m) => m[1]!);
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r.length, r).toBeGreaterThan(40);
  });
});
