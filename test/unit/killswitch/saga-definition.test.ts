import { describe, expect, it } from 'vitest';
import { Duration } from 'aws-cdk-lib';
import { RetryBudgetError, resolveRetry, retryBudgetSeconds } from '../../../lib/kill-switch.js';
import { synthKillSwitch } from './definition.js';
import { SAGA_FUNCTIONS } from '../../../lambdas/killswitch/topology.js';
import { runAslLocally } from '../../../local/stepfunctions.js';

function synthDefinition(context: Record<string, unknown> = {}) {
  return synthKillSwitch(context);
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
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
    });
    expect(definition.StartAt).toBe('1 Inventory terminated');
    for (const n of ['1 Inventory terminated', '2 Revocation list entry']) expect(all[n].Catch).toBeUndefined();
    for (const [n, step] of [
      ['3 Revoke credentials', 'credentials'],
      ['4 Platform kill', 'platform'],
      ['5 Drain', 'drain'],
      ['6 Audit event', 'audit'],
      ['7 Exit attestation', 'attestation'],
    ]) {
      expect(all[n!].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `Record ${step} failure` },
      ]);
      expect(all[n!].Retry).toContainEqual({
        ErrorEquals: ['States.ALL'],
        IntervalSeconds: 2,
        MaxAttempts: 30,
        BackoffRate: 2,
        MaxDelaySeconds: 3600,
      });
      expect(all[`Record ${step} failure`].Parameters.Payload).toMatchObject({ step, 'error.$': '$.error' });
    }
    expect(all['1 Inventory terminated'].Parameters.FunctionName).toBe(SAGA_FUNCTIONS.inventory);
  });

  it('bounds retries by 24 h and takes the policy from CDK context', () => {
    expect(retryBudgetSeconds(resolveRetry())).toBeLessThanOrEqual(24 * 3600);
    expect(() => resolveRetry({ maxAttempts: 40 })).toThrow(RetryBudgetError);
    expect(() => resolveRetry({ interval: Duration.hours(2), maxDelay: Duration.hours(6), maxAttempts: 6 })).toThrow(
      /bound is 24 h/,
    );
    const { definition: d } = synthDefinition({
      'arx:killswitch:retry': { intervalSeconds: 1, backoffRate: 1.5, maxAttempts: 4, maxDelaySeconds: 10 },
    });
    expect(states(d)['4 Platform kill'].Retry).toContainEqual({
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: 1,
      MaxAttempts: 4,
      BackoffRate: 1.5,
      MaxDelaySeconds: 10,
    });
  });

  it('records a failed platform step after its retries and still runs audit, attestation and finalize (local runner)', async () => {
    const calls: string[] = [];
    const recorded: unknown[] = [];
    const result = await runAslLocally(
      definition,
      ids,
      async (fn, payload: any) => {
        calls.push(fn);
        if (fn === SAGA_FUNCTIONS.platform)
          throw Object.assign(new Error('platform down'), { name: 'PlatformKillError' });
        if (fn === SAGA_FUNCTIONS.recordFailure) recorded.push(payload);
        return { ...ids, ok: true };
      },
      { timeScale: 0.000001 },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === SAGA_FUNCTIONS.platform)).toHaveLength(31); // first try + 30 retries
    expect(recorded).toEqual([
      { ...ids, step: 'platform', error: { Error: 'PlatformKillError', Cause: 'platform down' } },
    ]);
    expect(calls.slice(-3)).toEqual([SAGA_FUNCTIONS.audit, SAGA_FUNCTIONS.attestation, SAGA_FUNCTIONS.finalize]);
  });

  it('fails the execution when a fail-closed step keeps failing, and runs nothing after it', async () => {
    const calls: string[] = [];
    const result = await runAslLocally(
      definition,
      ids,
      async (fn) => {
        calls.push(fn);
        if (fn === SAGA_FUNCTIONS.revocation)
          throw Object.assign(new Error('table unreachable'), { name: 'FailClosedStepError' });
        return ids;
      },
      { timeScale: 0.001 },
    );

    expect(result).toMatchObject({ status: 'FAILED', error: 'FailClosedStepError' });
    expect(new Set(calls)).toEqual(new Set([SAGA_FUNCTIONS.inventory, SAGA_FUNCTIONS.revocation]));
    expect(calls.filter((c) => c === SAGA_FUNCTIONS.revocation)).toHaveLength(4); // 1 + 3 retries
  });
});
