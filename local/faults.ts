// biome-ignore-all lint/suspicious/noExplicitAny: SDK command inputs are untyped here
/**
 * Fault injection for the AWS SDK clients (issue 18), for the local runtime and tests only.
 *
 * A middleware added to every SDK client's stack (the same patch of `Client.prototype.send` as
 * local/aws-calls.ts) that, per service and at a configured rate drawn from a seeded PRNG, fails an
 * attempt with a throttling error, a 5xx ServiceUnavailable, a timeout (after a delay) or adds latency.
 * It sits at the `finalizeRequest` step, after the SDK's retry middleware: the rate is per *attempt*,
 * so the SDK's own retries (3 attempts by default) see it as they would see a real fault.
 *
 * It lives outside lambdas/ so it is never bundled into Lambda code (test/unit/faults-boundary.test.ts),
 * and it refuses to enable unless AWS_ENDPOINT_URL points at the loopback (moto / the local runtime).
 *
 * Config: ARX_FAULTS="dynamodb:throttle:0.05,kms:5xx:1,s3:timeout:0.1,sqs:latency:0.5" (service is the
 * SDK client name without "Client", case-insensitive: dynamodb, kms, s3, sts, eventbridge, sqs,
 * secretsmanager, sfn; `*` matches every service). Optional `ARX_FAULTS_SEED` (default 1).
 */
import { callOf, onEveryAwsClient } from './sdk-middleware.js';

export type FaultKind = 'throttle' | '5xx' | 'timeout' | 'latency';
export const FAULT_KINDS: readonly FaultKind[] = ['throttle', '5xx', 'timeout', 'latency'];
export const FAULT_SERVICES = ['dynamodb', 'kms', 's3', 'sts', 'eventbridge', 'sqs', 'secretsmanager', 'sfn'] as const;

export interface FaultRule {
  /** SDK service (client name without "Client", lower case) or `*`. */
  service: string;
  kind: FaultKind;
  /** Probability per attempt, 0..1. */
  rate: number;
  /** Only these operations (command name without "Command"), e.g. ['PutEvents']; all when absent. */
  operations?: readonly string[];
  /** Only requests to a table whose name matches (DynamoDB: TableName, the first transact/batch item's table). */
  table?: RegExp;
  /** Delay for `timeout` (before the TimeoutError) and `latency`; default 50 ms. */
  delayMs?: number;
  /** The first `after` attempts the rule matches pass untouched; it applies from then on (a fault partway through a run). */
  after?: number;
}

export interface FaultStats {
  /** `service.Operation` → attempts seen while faults were on. */
  attempts: Record<string, number>;
  /** `service.Operation kind` → faults injected. */
  injected: Record<string, number>;
}

let rules: FaultRule[] = [];
/** Attempts each rule has matched (for `after`). */
let matched = new WeakMap<FaultRule, number>();
let rand: () => number = mulberry32(1);
const attempts = new Map<string, number>();
const injected = new Map<string, number>();

/** Seeded PRNG: the same seed and call order inject the same faults. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses `svc:kind:rate[:delayMs],…`; throws on a malformed entry (a typo must not silently disable a fault). */
export function parseFaults(spec: string): FaultRule[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [service, kind, rate, delay] = entry.split(':');
      const r = Number(rate);
      if (!service || !FAULT_KINDS.includes(kind as FaultKind) || !(r >= 0 && r <= 1))
        throw new Error(`ARX_FAULTS: bad entry '${entry}' (want service:${FAULT_KINDS.join('|')}:rate[:delayMs])`);
      const svc = service.toLowerCase();
      if (svc !== '*' && !(FAULT_SERVICES as readonly string[]).includes(svc))
        throw new Error(`ARX_FAULTS: unknown service '${service}' (one of ${FAULT_SERVICES.join(', ')}, *)`);
      return {
        service: svc,
        kind: kind as FaultKind,
        rate: r,
        ...(delay ? { delayMs: Number(delay) } : {}),
      };
    });
}

/** Throws unless this process talks to a loopback endpoint: faults never reach a deployed stack. */
export function assertLocal(env: NodeJS.ProcessEnv = process.env): void {
  const url = env.AWS_ENDPOINT_URL ?? '';
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    /* not a URL */
  }
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host) || env.AWS_LAMBDA_FUNCTION_NAME)
    throw new Error('fault injection is for the local runtime and tests only (AWS_ENDPOINT_URL must be loopback)');
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The error a real service answers with, shaped as the SDK deserialises it (so its retry logic applies). */
export function faultError(kind: Exclude<FaultKind, 'latency'>, service: string): Error {
  const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: 'arx-fault', attempts: 1 });
  let e: any;
  if (kind === 'throttle') {
    const name = service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : 'ThrottlingException';
    e = Object.assign(new Error(`${name}: Rate exceeded (injected by local/faults)`), {
      name,
      $fault: 'client',
      $metadata: meta(400),
      $retryable: { throttling: true },
    });
  } else if (kind === '5xx') {
    e = Object.assign(new Error('ServiceUnavailable: injected by local/faults'), {
      name: 'ServiceUnavailable',
      $fault: 'server',
      $metadata: meta(503),
    });
  } else {
    e = Object.assign(new Error('TimeoutError: socket timed out (injected by local/faults)'), {
      name: 'TimeoutError',
      code: 'ETIMEDOUT',
      $metadata: {},
    });
  }
  e.arxInjected = true;
  return e;
}

function tableOf(input: any): string | undefined {
  const item = input?.TransactItems?.[0] ? Object.values(input.TransactItems[0])[0] : undefined;
  return input?.TableName ?? Object.keys(input?.RequestItems ?? {})[0] ?? (item as any)?.TableName;
}

function pick(service: string, op: string, input: unknown): FaultRule | undefined {
  for (const r of rules) {
    if (r.service !== '*' && r.service !== service) continue;
    if (r.operations && !r.operations.includes(op)) continue;
    if (r.table && !r.table.test(tableOf(input) ?? '')) continue;
    if (r.after) {
      const n = (matched.get(r) ?? 0) + 1;
      matched.set(r, n);
      if (n <= r.after) continue;
    }
    if (rand() < r.rate) return r;
  }
  return undefined;
}

function install(): void {
  onEveryAwsClient('arxFaultInjector', 'finalizeRequest', (next, context) => async (a) => {
    const call = callOf(context);
    if (!rules.length || !call) return next(a);
    const service = call.service.toLowerCase();
    const key = `${service}.${call.op}`;
    bump(attempts, key);
    const rule = pick(service, call.op, a.input);
    if (!rule) return next(a);
    bump(injected, `${key} ${rule.kind}`);
    if (rule.kind === 'latency') {
      await sleep(rule.delayMs ?? 50);
      return next(a);
    }
    if (rule.kind === 'timeout') await sleep(rule.delayMs ?? 50);
    throw faultError(rule.kind, service);
  });
  // (registered after the retry middleware: each attempt draws on its own)
}

/** Turns faults on (replacing any earlier rules). Refuses outside the local runtime and tests. */
export function injectFaults(next: readonly FaultRule[], seed = 1): void {
  assertLocal();
  install();
  rules = next.map((r) => ({ ...r, service: r.service.toLowerCase() }));
  matched = new WeakMap();
  rand = mulberry32(seed);
}

/** Turns every fault off; the counters stay until `resetFaultStats()`. */
export function clearFaults(): void {
  rules = [];
}

export function activeFaults(): readonly FaultRule[] {
  return rules;
}

export function faultStats(): FaultStats {
  const obj = (m: Map<string, number>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return { attempts: obj(attempts), injected: obj(injected) };
}

export function resetFaultStats(): void {
  attempts.clear();
  injected.clear();
}

/** Total faults injected (optionally for one service). */
export function injectedCount(service?: string): number {
  let n = 0;
  for (const [k, v] of injected) if (!service || k.startsWith(`${service}.`)) n += v;
  return n;
}

/** Installs the faults of ARX_FAULTS, if set (the local runtime calls this once). Returns the rules. */
export function installFaultsFromEnv(env: NodeJS.ProcessEnv = process.env): readonly FaultRule[] {
  const spec = env.ARX_FAULTS?.trim();
  if (!spec) return [];
  assertLocal(env);
  const parsed = parseFaults(spec);
  injectFaults(parsed, Number(env.ARX_FAULTS_SEED ?? 1));
  return parsed;
}
