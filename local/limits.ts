/**
 * What Lambda does around a handler, for the in-process runtime: a bounded number of concurrent
 * executions per function (reserved concurrency), a bounded queue in front of it, and the
 * function's timeout. Beyond the queue a caller is refused at once (`Throttled`), never left to
 * time out.
 */

/** Raised when a function's executions and its queue are all taken. */
export class Throttled extends Error {
  override readonly name = 'Throttled';
  constructor(readonly fnName: string) {
    super(`${fnName}: concurrency and queue exhausted`);
  }
}

/** Raised when a handler has not answered within its function's timeout. */
export class FunctionTimeout extends Error {
  override readonly name = 'FunctionTimeout';
  constructor(
    readonly fnName: string,
    readonly timeoutMs: number,
  ) {
    super(`${fnName}: task timed out after ${timeoutMs} ms`);
  }
}

export interface PoolLimits {
  /** Executions at once. */
  readonly concurrency: number;
  /** Callers waiting for an execution slot before new ones are refused. */
  readonly queue: number;
  /**
   * Multiplies every function's timeout. The emulator on a shared laptop is slower than AWS;
   * 1 enforces the deployed timeouts exactly. @default 3
   */
  readonly timeoutScale?: number;
}

/**
 * Reads ARX_LOCAL_CONCURRENCY / ARX_LOCAL_QUEUE / ARX_LOCAL_TIMEOUT_SCALE; defaults 10, 10 ×
 * concurrency, 3. Nonsense is refused at start, loudly.
 */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): PoolLimits {
  const int = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${v}")`);
    return n;
  };
  const concurrency = int('ARX_LOCAL_CONCURRENCY', env.ARX_LOCAL_CONCURRENCY, 10, 1);
  const queue = int('ARX_LOCAL_QUEUE', env.ARX_LOCAL_QUEUE, concurrency * 10, 0);
  const rawScale = env.ARX_LOCAL_TIMEOUT_SCALE;
  const timeoutScale = rawScale === undefined || rawScale === '' ? 3 : Number(rawScale);
  if (!Number.isFinite(timeoutScale) || timeoutScale <= 0)
    throw new Error(`ARX_LOCAL_TIMEOUT_SCALE must be a positive number (got "${rawScale}")`);
  return { concurrency, queue, timeoutScale };
}

/** A counting semaphore with a bounded FIFO queue. */
export class FunctionPool {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly fnName: string,
    readonly limits: PoolLimits,
  ) {}

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` when a slot is free. `bounded` callers (synchronous invocations, as through
   * API Gateway) are refused with `Throttled` when the queue is full; unbounded callers
   * (asynchronous sources: schedules, event delivery, state machines) always wait, as Lambda's
   * own async queue would hold them.
   */
  async run<T>(task: () => Promise<T>, bounded = true): Promise<T> {
    if (this.active >= this.limits.concurrency) {
      if (bounded && this.waiting.length >= this.limits.queue) throw new Throttled(this.fnName);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Resolves with `p`, or rejects with FunctionTimeout after `ms` (the work itself is abandoned, as Lambda would kill it). */
export function withTimeout<T>(fnName: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeout(fnName, ms)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
