/**
 * Local Step Functions: runs the ASL that CDK synthesised (the same definition deployed to AWS)
 * with `aws-local-stepfunctions`, every Lambda task calling the real handler through
 * `invokeLambda`. Retry/Catch/Parallel/Choice semantics come from the library; `timeScale` shrinks
 * retry backoff and Wait states so tests do not wait for real time.
 *
 * `startExecutionPoller` pairs it with the emulator: API handlers call the real StartExecution
 * (so Step Functions itself refuses a second execution of the same name); the poller finds new
 * executions with ListExecutions and runs each once locally.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';

// aws-local-stepfunctions uses Promise.withResolvers (Node ≥ 22); polyfill it on Node 20.
type WithResolvers = <T>() => {
  promise: Promise<T>;
  resolve: (v: T | PromiseLike<T>) => void;
  reject: (e?: unknown) => void;
};
const P = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>() => {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export type InvokeLambda = (functionArnOrName: string, payload: unknown) => Promise<unknown>;

export interface RunAslOptions {
  /**
   * Multiplies every retry interval (with its backoff and MaxDelaySeconds) and every Wait state's
   * duration; 0.001 turns seconds into milliseconds. @default 1 (real time)
   */
  readonly timeScale?: number;
  /** Context object (`$$`) for the execution, e.g. `{ Execution: { Id, Name, Input, StartTime } }`. */
  readonly context?: Record<string, unknown>;
  /** Called with every event of the execution (StateEntered, StateRetried, StateCaught, …). */
  readonly onEvent?: (event: { type: string; state?: { name: string }; [k: string]: unknown }) => void;
}

export interface AslRunResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output?: unknown;
  /** Error name and cause when FAILED. */
  readonly error?: string;
  readonly cause?: string;
}

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}
interface AslState {
  Type: string;
  Resource?: string;
  Retry?: Retrier[];
  Seconds?: number;
  Branches?: AslMachine[];
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
}
interface AslMachine {
  States: Record<string, AslState>;
}

/** Every state of the machine, including those inside Parallel branches and Map iterators. */
function allStates(def: AslMachine): [string, AslState][] {
  const out: [string, AslState][] = [];
  for (const [name, s] of Object.entries(def.States ?? {})) {
    out.push([name, s]);
    for (const b of s.Branches ?? []) out.push(...allStates(b));
    if (s.Iterator) out.push(...allStates(s.Iterator));
    if (s.ItemProcessor) out.push(...allStates(s.ItemProcessor));
  }
  return out;
}

const LAMBDA_INVOKE = /^arn:aws[a-z-]*:states:::lambda:invoke$/;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:/;

/** The same retrier choice the library makes (first retrier whose ErrorEquals matches). */
function matchRetrier(retry: readonly Retrier[], errorName: string): number {
  return retry.findIndex((r) =>
    r.ErrorEquals.some(
      (e) => e === errorName || e === 'States.ALL' || (e === 'States.TaskFailed' && errorName !== 'States.Timeout'),
    ),
  );
}

const validated = new Set<string>();

interface Started {
  abort(): void;
  result: Promise<AslRunResult>;
}

async function startAsl(
  definition: object,
  input: unknown,
  invokeLambda: InvokeLambda,
  opts: RunAslOptions = {},
): Promise<Started> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const def = definition as AslMachine;
  const scale = opts.timeScale ?? 1;
  const retryIntervalOverrides: Record<string, number[]> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};

  for (const [name, state] of allStates(def)) {
    if (state.Type === 'Wait' && scale !== 1 && typeof state.Seconds === 'number')
      waitTimeOverrides[name] = state.Seconds * 1000 * scale;
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource ?? '');
    const attempts = (state.Retry ?? []).map(() => 0);
    const call = async (fn: string, payload: unknown, wrap: boolean): Promise<unknown> => {
      try {
        const result = await invokeLambda(fn, payload);
        // lambda:invoke returns the Invoke API response; the function's result is its Payload.
        return wrap
          ? {
              ExecutedVersion: '$LATEST',
              Payload: result ?? null,
              StatusCode: 200,
              SdkHttpMetadata: { HttpStatusCode: 200 },
            }
          : (result ?? null);
      } catch (e) {
        if (scale !== 1 && state.Retry?.length) {
          const i = matchRetrier(state.Retry, (e as Error)?.name ?? 'Error');
          const r = state.Retry[i];
          if (r && attempts[i]! < (r.MaxAttempts ?? 3)) {
            const seconds = Math.min(
              (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** attempts[i]!,
              r.MaxDelaySeconds ?? Infinity,
            );
            retryIntervalOverrides[name] ??= state.Retry.map(() => -1);
            retryIntervalOverrides[name]![i] = seconds * 1000 * scale;
            attempts[i]!++;
          }
        }
        throw e;
      }
    };
    if (LAMBDA_INVOKE.test(resource)) {
      handlers[name] = async (params) => {
        const p = params as { FunctionName?: string; Payload?: unknown };
        if (!p?.FunctionName)
          throw Object.assign(new Error(`task ${name}: lambda:invoke without FunctionName`), {
            name: 'States.Runtime',
          });
        return call(p.FunctionName, p.Payload, true);
      };
    } else if (LAMBDA_ARN.test(resource)) {
      handlers[name] = async (payload) => call(resource, payload, false);
    } else {
      handlers[name] = async () => {
        throw Object.assign(new Error(`task ${name}: the local runner supports Lambda tasks only, not ${resource}`), {
          name: 'States.Runtime',
        });
      };
    }
  }

  let aborted = false;
  // Validate each definition once (asl-validator costs ~0.3 s, and Parallel/Map states would
  // validate their branches again on every run); runs use the already-validated definition.
  const key = JSON.stringify(definition);
  if (!validated.has(key)) {
    new StateMachine(definition as never, { validationOptions: { checkArn: false } });
    validated.add(key);
  }
  const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides, waitTimeOverrides },
    ...(opts.context ? { context: opts.context as never } : {}),
    noThrowOnAbort: true,
  });
  if (opts.onEvent) {
    const onEvent = opts.onEvent;
    void (async () => {
      for await (const ev of execution.eventLogs) onEvent(ev as never);
    })().catch(() => undefined);
  }
  const result = execution.result.then(
    (output): AslRunResult => (output === null && aborted ? { status: 'ABORTED' } : { status: 'SUCCEEDED', output }),
    (e: unknown): AslRunResult => {
      const err = e as { name?: string; message?: string; cause?: { name?: string; message?: string } };
      const inner = err.cause ?? err;
      return { status: 'FAILED', error: inner.name ?? 'Error', cause: inner.message ?? String(e) };
    },
  );
  return {
    abort: () => {
      aborted = true;
      execution.abort();
    },
    result,
  };
}

/**
 * Runs an ASL definition locally to completion. Lambda tasks (`arn:aws:states:::lambda:invoke`
 * with `FunctionName`, or a function ARN as Resource) call `invokeLambda`; other service
 * integrations fail with States.Runtime. Honours Retry/Catch; `opts.timeScale` scales backoff.
 *
 * @example
 * const r = await runAslLocally(def, { termination_id }, (fn, p) => handlers[fn]!(p), { timeScale: 0.001 });
 * r.status; // 'SUCCEEDED'
 */
export async function runAslLocally(
  definition: object,
  input: unknown,
  invokeLambda: InvokeLambda,
  opts: RunAslOptions = {},
): Promise<AslRunResult> {
  return (await startAsl(definition, input, invokeLambda, opts)).result;
}

export interface PollerOptions {
  readonly sfn: SFNClient;
  readonly machines: readonly { arn: string; definition: object }[];
  readonly invokeLambda: InvokeLambda;
  /** @default 200 */
  readonly intervalMs?: number;
  /** Passed to runAslLocally. @default 1 */
  readonly timeScale?: number;
  /** Called when an execution finishes locally (status from the local run). */
  readonly onDone?: (executionArn: string, result: AslRunResult) => void;
}

/**
 * Watches the emulated state machines for RUNNING executions (the emulator does not run them)
 * and runs each exactly once locally with the real handlers. Status lives with the application
 * (e.g. the termination record), not in the emulator. Returns stop(), which aborts local runs.
 */
export function startExecutionPoller(o: PollerOptions): () => Promise<void> {
  const seen = new Set<string>();
  const running = new Map<string, Started>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const pollMachine = async (m: { arn: string; definition: object }): Promise<void> => {
    let nextToken: string | undefined;
    do {
      const page = await o.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: m.arn, statusFilter: 'RUNNING', maxResults: 100, nextToken }),
      );
      for (const ex of page.executions ?? []) {
        const arn = ex.executionArn!;
        if (seen.has(arn) || stopped) continue;
        seen.add(arn);
        const d = await o.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        const input = d.input ? (JSON.parse(d.input) as unknown) : {};
        const started = await startAsl(m.definition, input, o.invokeLambda, {
          timeScale: o.timeScale,
          context: {
            Execution: {
              Id: arn,
              Name: d.name ?? ex.name,
              Input: input as never,
              StartTime: (d.startDate ?? new Date()).toISOString(),
            },
            StateMachine: { Id: m.arn },
          },
        });
        running.set(arn, started);
        void started.result.then((r) => {
          running.delete(arn);
          if (r.status === 'FAILED')
            process.stderr.write(`local stepfunctions: execution ${d.name ?? arn} failed: ${r.error}: ${r.cause}\n`);
          o.onDone?.(arn, r);
        });
      }
      nextToken = page.nextToken;
    } while (nextToken && !stopped);
  };

  const tick = async (): Promise<void> => {
    for (const m of o.machines) {
      if (stopped) return;
      await pollMachine(m).catch((e: unknown) => {
        if (!stopped) process.stderr.write(`local stepfunctions: polling ${m.arn} failed: ${(e as Error).message}\n`);
      });
    }
  };
  const loop = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void tick().finally(loop), o.intervalMs ?? 200);
    timer.unref?.();
  };
  void tick().finally(loop);

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const inflight = [...running.values()];
    for (const r of inflight) r.abort();
    await Promise.allSettled(inflight.map((r) => r.result));
  };
}
