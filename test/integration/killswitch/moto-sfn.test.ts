/**
 * The synthesised termination saga on moto's own Step Functions interpreter (its non-Lambda
 * integrations: Parallel, Retry, Catch, ResultPath), with moto's canned Lambda results. (The
 * fail-closed path — a failing step 1/2 fails the execution — is covered with the local runner in
 * test/unit/killswitch/saga-definition.test.ts; one moto run keeps this suite short.)
 *
 * Runs on a private moto_server: `execute_state_machine` and `lambda.use_docker` are global moto
 * settings, and flipping them on the shared emulator would change other suites' state machines
 * while they run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startMoto, type RunningMoto } from '../../../local/moto.js';
import { synthKillSwitch } from '../../unit/killswitch/definition.js';

const arn = (n: string) => `arn:aws:lambda:us-east-1:123456789012:function:${n}`;
const input = { termination_id: 'term_01JAAAAAAAAAAAAAAAAAAAAAAA', tenant_id: 'acme' };
let json: string;
let functionNames: string[];
const motos: RunningMoto[] = [];

/**
 * A private moto executing state machines. With `functions`, every task function exists and moto
 * answers each invoke with its canned result; without, every Lambda task fails (function not
 * found). One execution per emulator: a second StartExecution on moto 5.2.1 is unreliable.
 */
async function runOnMoto(definition: string, functions: boolean) {
  const moto = await startMoto();
  motos.push(moto);
  const c = {
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  await fetch(`${moto.endpoint}/moto-api/config`, {
    method: 'POST',
    body: JSON.stringify({ stepfunctions: { execute_state_machine: true }, lambda: { use_docker: !functions } }),
  });
  const role = await new IAMClient(c).send(new CreateRoleCommand({ RoleName: 'fn', AssumeRolePolicyDocument: '{}' }));
  const lambda = new LambdaClient(c);
  const emptyZip = Buffer.from('UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'base64');
  for (const n of functions ? functionNames : []) {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: n,
        Runtime: 'nodejs20.x',
        Role: role.Role!.Arn!,
        Handler: 'index.handler',
        Code: { ZipFile: emptyZip },
      }),
    );
  }
  const sfn = new SFNClient(c);
  const sm = await sfn.send(
    new CreateStateMachineCommand({
      name: 'termination',
      definition,
      roleArn: 'arn:aws:iam::123456789012:role/sfn',
      type: 'STANDARD',
    }),
  );
  const ex = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: sm.stateMachineArn,
      name: input.termination_id,
      input: JSON.stringify(input),
    }),
  );
  for (let i = 0; i < 150; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: ex.executionArn }));
    if (d.status !== 'RUNNING') {
      const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn: ex.executionArn, maxResults: 500 }));
      const entered = (h.events ?? []).flatMap((e) =>
        e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
      );
      return { status: d.status, error: d.error, entered };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('execution did not finish');
}

beforeAll(() => {
  ({ json, functionNames } = synthKillSwitch({}, arn));
}, 120_000);

afterAll(async () => {
  await Promise.all(motos.map((m) => m.stop()));
});

describe('Termination saga on moto Step Functions', () => {
  it('runs every state of the synthesised definition, the parallel branches included, to SUCCEEDED', async () => {
    const r = await runOnMoto(json, true);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered).toEqual(
      expect.arrayContaining([
        '1 Inventory terminated',
        '2 Revocation list entry',
        '3-5 Revoke credentials, kill on platform, drain',
        '3 Revoke credentials',
        '4 Platform kill',
        '5 Drain',
        '6 Audit event',
        '7 Exit attestation',
        'Finalize',
      ]),
    );
    expect(r.entered.some((n) => n.startsWith('Record '))).toBe(false);
  }, 60_000);
});
