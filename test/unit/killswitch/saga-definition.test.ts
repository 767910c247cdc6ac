import { describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ArxFunctions, ResourceRegistry } from '../../../lib/bindings.js';
import { KillSwitch, RetryBudgetError, resolveRetry, retryBudgetSeconds } from '../../../lib/kill-switch.js';
import { PROJECT_ROOT } from '../../../lib/arx-stack.js';
import { TOPOLOGY } from '../../../lambdas/topology.js';
import { SAGA_FUNCTIONS } from '../../../lambdas/killswitch/topology.js';
import { runAslLocally } from '../../../local/stepfunctions.js';

/** Synthesises only the kill switch (its functions + saga) and returns the ASL with function names as FunctionName. */
function synthDefinition(context: Record<string, unknown> = {}): { definition: any; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new Stack(app, 'Ks');
  const registry = new ResourceRegistry();
  const functions = new ArxFunctions(stack, 'Fns', { functions: TOPOLOGY.functions.filter((f) => f.capability === 'killswitch'), projectRoot: PROJECT_ROOT, registry });
  new KillSwitch(stack, 'KillSwitch', { registry, functions });
  const template = Template.fromStack(stack);
  const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const names = new Map<string, string>();
  for (const [id, r] of Object.entries(template.findResources('AWS::Lambda::Function')) as [string, any][]) names.set(id, r.Properties.Environment.Variables.ARX_FUNCTION_NAME);
  const parts = sm.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  const json = parts.map((p: any) => (typeof p === 'string' ? p : p.Ref === 'AWS::Partition' ? 'aws' : names.get(p['Fn::GetAtt'][0]))).join('');
  return { definition: JSON.parse(json), template };
}

function states(def: any): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [n, s] of Object.entries<any>(def.States)) {
    out[n] = s;
    for (const b of s.Branches ?? []) Object.assign(out, states(b));
  }
  return out;
}

const ids = { termination_id: 'term_01JAAAAAAAAAAAAAAAAAAAAAAA', tenant_id: 'acme' };

describe('KillSwitch termination saga (synthesised ASL)', () => {
  const { definition, template } = synthDefinition();
  const all = states(definition);

  it('is a STANDARD workflow with logging and tracing, fail-closed steps without Catch and best-effort steps with bounded Retry and Catch', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD', TracingConfiguration: { Enabled: true } });
    expect(definition.StartAt).toBe('1 Inventory terminated');
    for (const n of ['1 Inventory terminated', '2 Revocation list entry']) expect(all[n].Catch).toBeUndefined();
    for (const [n, step] of [['3 Revoke credentials', 'credentials'], ['4 Platform kill', 'platform'], ['5 Drain', 'drain'], ['6 Audit event', 'audit'], ['7 Exit attestation', 'attestation']]) {
      expect(all[n!].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `Record ${step} failure` }]);
      expect(all[n!].Retry).toContainEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 30, BackoffRate: 2, MaxDelaySeconds: 3600 });
      expect(all[`Record ${step} failure`].Parameters.Payload).toMatchObject({ step, 'error.$': '$.error' });
    }
    expect(all['1 Inventory terminated'].Parameters.FunctionName).toBe(SAGA_FUNCTIONS.inventory);
  });

  it('bounds retries by 24 h and takes the policy from CDK context', () => {
    expect(retryBudgetSeconds(resolveRetry())).toBeLessThanOrEqual(24 * 3600);
    expect(() => resolveRetry({ maxAttempts: 40 })).toThrow(RetryBudgetError);
    expect(() => resolveRetry({ interval: Duration.hours(2), maxDelay: Duration.hours(6), maxAttempts: 6 })).toThrow(/bound is 24 h/);
    const { definition: d } = synthDefinition({ 'arx:killswitch:retry': { intervalSeconds: 1, backoffRate: 1.5, maxAttempts: 4, maxDelaySeconds: 10 } });
    expect(states(d)['4 Platform kill'].Retry).toContainEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 4, BackoffRate: 1.5, MaxDelaySeconds: 10 });
  });

  it('records a failed platform step after its retries and still runs audit, attestation and finalize (local runner)', async () => {
    const calls: string[] = [];
    const recorded: unknown[] = [];
    const result = await runAslLocally(
      definition,
      ids,
      async (fn, payload: any) => {
        calls.push(fn);
        if (fn === SAGA_FUNCTIONS.platform) throw Object.assign(new Error('platform down'), { name: 'PlatformKillError' });
        if (fn === SAGA_FUNCTIONS.recordFailure) recorded.push(payload);
        return { ...ids, ok: true };
      },
      { timeScale: 0.000001 },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === SAGA_FUNCTIONS.platform)).toHaveLength(31); // first try + 30 retries
    expect(recorded).toEqual([{ ...ids, step: 'platform', error: { Error: 'PlatformKillError', Cause: 'platform down' } }]);
    expect(calls.slice(-3)).toEqual([SAGA_FUNCTIONS.audit, SAGA_FUNCTIONS.attestation, SAGA_FUNCTIONS.finalize]);
  });

  it('fails the execution when a fail-closed step keeps failing, and runs nothing after it', async () => {
    const calls: string[] = [];
    const result = await runAslLocally(
      definition,
      ids,
      async (fn) => {
        calls.push(fn);
        if (fn === SAGA_FUNCTIONS.revocation) throw Object.assign(new Error('table unreachable'), { name: 'FailClosedStepError' });
        return ids;
      },
      { timeScale: 0.001 },
    );

    expect(result).toMatchObject({ status: 'FAILED', error: 'FailClosedStepError' });
    expect(new Set(calls)).toEqual(new Set([SAGA_FUNCTIONS.inventory, SAGA_FUNCTIONS.revocation]));
    expect(calls.filter((c) => c === SAGA_FUNCTIONS.revocation)).toHaveLength(4); // 1 + 3 retries
  });
});
