/**
 * Harness for kill-switch integration tests: provisions the synthesised stack in the shared moto
 * under a unique prefix and runs the synthesised termination saga (the same ASL) locally with the
 * real task handlers. Each handler runs as the local runtime runs it (local/runtime.ts
 * `initHandler`/`invokeIn`): imported, checked and invoked inside its own function's environment
 * from the template, never a merged one, so a missing `uses` fails here as it would deployed.
 */
import { apiEvent } from '../../support/api-event.js';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SFNClient } from '@aws-sdk/client-sfn';
import { provisionTestStack } from '../../support/stack.js';
import { synthTemplate } from '../../../lib/synth.js';
import { eventually } from '../../support/wait.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { SAGA_FUNCTIONS } from '../../../lambdas/killswitch/topology.js';
import { startExecutionPoller } from '../../../local/stepfunctions.js';
import { functionEnvironments, initHandler, invokeIn, lambdaContext, type Handler } from '../../../local/runtime.js';
import { testTemplate } from '../../support/template.js';

export { lambdaContext };

export interface KillSwitchHarness {
  /** The union of the functions' resource variables, for test code (handlers never see it). */
  env: Record<string, string>;
  /** Each kill-switch function's own environment, as its handler sees it. */
  functionEnv(fn: string): Readonly<Record<string, string>>;
  machineArn: string;
  definition: object;
  handlers: Record<string, Handler>;
  invokeLambda: (arn: string, payload: unknown) => Promise<unknown>;
  /** Calls the API handler as API Gateway would after the authorizer. */
  call(
    method: string,
    path: string,
    routePath: string,
    params: Record<string, string>,
    auth: AuthContext | null,
    body?: unknown,
  ): Promise<{ status: number; json: any }>;
  /** Starts the poller that runs new executions locally; returns stop(). */
  startPoller(timeScale?: number): () => Promise<void>;
  sfn: SFNClient;
}

/** The kill-switch state machine's DefinitionString from a synthesis with a 3-attempt retry context. */
function retryTemplateDefinition(logicalId: string): unknown {
  const t = synthTemplate({ context: { 'arx:killswitch:retry': { maxAttempts: 3 } } }) as {
    Resources: Record<string, { Properties?: { DefinitionString?: unknown } }>;
  };
  const d = t.Resources[logicalId]?.Properties?.DefinitionString;
  if (d === undefined) throw new Error(`${logicalId} is not in the retry-context synthesis`);
  return d;
}

export async function killSwitchHarness(): Promise<KillSwitchHarness> {
  const { env, stack } = await provisionTestStack();
  const envs = functionEnvironments(testTemplate(), stack);
  const functionEnv = (fn: string): Readonly<Record<string, string>> => {
    const e = envs.get(fn);
    if (!e) throw new Error(`the template has no function ${fn}`);
    return e;
  };
  const sm = [...stack.resources.entries()].find(
    ([id, r]) => r.type === 'AWS::StepFunctions::StateMachine' && id.startsWith('KillSwitch'),
  );
  if (!sm) throw new Error('no termination state machine in the template');
  // The ASL synthesised with the best-effort steps' retry count lowered through the CDK context
  // (arx:killswitch:retry), so a dead platform API reaches partial_failure in a few attempts. Only
  // the retry policy differs from the provisioned template, so its references resolve the same.
  const definition = JSON.parse(String(stack.resolve(retryTemplateDefinition(sm[0])))) as object;
  if (JSON.stringify(definition).includes('"MaxAttempts":30'))
    throw new Error('arx:killswitch:retry did not reach the saga definition');
  // The kill-switch API and every task function of the saga, each in its own environment.
  const handlers: Record<string, Handler> = {};
  for (const fn of ['killswitch-api', ...Object.values(SAGA_FUNCTIONS)]) {
    const own = functionEnv(fn);
    const h = await initHandler(fn, own);
    handlers[fn] = (event, ctx) => invokeIn(own, h, event, ctx);
  }
  const arnToFn = new Map<string, string>();
  for (const [logical, fn] of stack.functionNames) {
    const r = stack.resources.get(logical);
    if (r) {
      arnToFn.set(r.attrs.Arn!, fn);
      arnToFn.set(r.ref, fn);
    }
  }
  const invokeLambda = async (arn: string, payload: unknown) => {
    const fn = arnToFn.get(String(arn).replace(/:(\$LATEST|\d+)$/, ''));
    if (!fn || !handlers[fn]) throw new Error(`unknown task function ${arn}`);
    return handlers[fn]!(payload, lambdaContext(fn));
  };
  const sfn = new SFNClient({});
  return {
    env,
    functionEnv,
    machineArn: sm[1].ref,
    definition,
    handlers,
    invokeLambda,
    sfn,
    async call(method, _path, routePath, params, auth, body) {
      const event = apiEvent({
        method,
        route: routePath,
        params,
        ...(auth ? { auth } : {}),
        ...(body !== undefined ? { body } : {}),
      });
      const r = (await handlers['killswitch-api']!(event, lambdaContext('killswitch-api'))) as {
        statusCode: number;
        body?: string;
      };
      return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined };
    },
    startPoller(timeScale = 0.00001) {
      return startExecutionPoller({
        sfn,
        machines: [{ arn: sm[1].ref, definition }],
        invokeLambda,
        intervalMs: 50,
        timeScale,
      });
    },
  };
}

export const admin = (tenantId: string, subject = 'admin-1'): AuthContext => ({
  tenantId,
  subject,
  roles: ['admin'],
  principalType: 'human',
});
export const auditor = (tenantId: string): AuthContext => ({
  tenantId,
  subject: 'auditor-1',
  roles: ['auditor'],
  principalType: 'human',
});

/** A platform kill endpoint that records what it receives and answers `status`. */
export async function killEndpoint(
  status = 200,
): Promise<{ url: string; calls: { body: any; headers: IncomingMessage['headers'] }[]; close(): Promise<void> }> {
  const calls: { body: any; headers: IncomingMessage['headers'] }[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      calls.push({ body: data ? JSON.parse(data) : null, headers: req.headers });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/kill`, calls, close: () => new Promise((r) => server.close(() => r())) };
}

export const until = <T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> => eventually(fn, timeoutMs, everyMs);
