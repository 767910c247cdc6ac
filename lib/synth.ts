import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ArxStack, PROJECT_ROOT } from './arx-stack.js';
import { propsFromContext } from './context.js';

/** The stack id used by `cdk synth` and by every in-process synthesis. */
export const STACK_ID = 'Arx';

export interface SynthOptions {
  /**
   * Run esbuild bundling for the functions.
   * @default false (assets are staged unbundled: fast, for tests and the local runtime)
   */
  readonly bundling?: boolean;
  /** Context merged over cdk.json's `context`. */
  readonly context?: Record<string, unknown>;
  /**
   * Add the cdk-nag AwsSolutions checks (as bin/arx.ts does).
   * @default false
   */
  readonly nag?: boolean;
}

/** cdk.json's `context` block, so in-process synthesis matches `cdk synth`. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

/** Builds the app and the stack in-process (no CLI, no AWS account, no lookups). */
export function buildApp(options: SynthOptions = {}): { app: App; stack: ArxStack } {
  const context: Record<string, unknown> = { ...cdkJsonContext(), ...(options.context ?? {}) };
  if (!options.bundling) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ context });
  const stack = new ArxStack(app, STACK_ID, propsFromContext(app.node));
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}

/**
 * The stack's CloudFormation template, synthesised in-process with bundling skipped by default.
 * The local runtime provisions the emulator from it: each function's `Environment.Variables`
 * holds plain `Ref`/`Fn::GetAtt` values and `ARX_FUNCTION_NAME`.
 *
 * @example
 * const t = synthTemplate();
 * Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
 */
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
export function synthTemplate(options: Omit<SynthOptions, 'nag'> = {}): Record<string, any> {
  const { app } = buildApp(options);
  const assembly = app.synth();
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return assembly.getStackByName(STACK_ID).template as Record<string, any>;
}
