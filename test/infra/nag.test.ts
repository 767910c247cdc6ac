import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../lib/synth.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

let stack: Stack;
let template: { Metadata?: { cdk_nag?: unknown } };

beforeAll(() => {
  const built = buildApp({ nag: true });
  stack = built.stack;
  template = built.app.synth().getStackByName(stack.stackName).template;
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning on the ARX stack', () => {
    const annotations = Annotations.fromStack(stack);
    const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const show = (ms: typeof errors) => ms.map((m) => `${m.id}: ${String(m.entry.data).slice(0, 160)}`);
    expect(show(errors)).toEqual([]);
    expect(show(warnings)).toEqual([]);
  });

  it('acknowledges findings only on specific resources, never on the stack, each with a concrete reason', () => {
    expect(template.Metadata?.cdk_nag).toBeUndefined();
    const json = JSON.stringify(template);
    const reasons = [...json.matchAll(/"reason":"([^"]*)"/g)].map((m) => m[1]!);
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r.length, r).toBeGreaterThan(40);
  });
});
