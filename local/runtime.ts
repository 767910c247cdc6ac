// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template properties and API Gateway events are untyped JSON
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import {
  SQSClient,
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { TOPOLOGY, AUTHORIZER_FN, functionSpec } from '../lambdas/topology.js';
import type { RouteSpec } from '../lambdas/shared/topology-types.js';
import { provisionFromTemplate, type ProvisionedStack } from './provision.js';
import { DevIdp } from './dev-idp.js';
import { consoleRoutes } from './console-server.js';
import { FunctionPool, FunctionTimeout, Throttled, limitsFromEnv, withTimeout, type PoolLimits } from './limits.js';
import { withEnvironment, type HandlerSettings } from '../lambdas/shared/settings.js';
import { isSimplePattern, matchesPattern, unionBySource } from './event-patterns.js';
import { installFaultsFromEnv } from './faults.js';

export type Handler = (event: unknown, context: Context) => Promise<any>;

export interface LocalRuntimeOptions {
  /** @default 8787 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Physical-name prefix in the emulator. @default 'arx-local' */
  readonly prefix?: string;
  /** The synthesised CloudFormation template (lib/synth.ts). */
  readonly template: { Resources: Record<string, { Type: string; Properties?: any }> };
  /** Extra environment for every handler (e.g. Slack base URL, TSA URL), over its function's own. */
  readonly env?: Record<string, string>;
  /** Run schedules and event delivery. @default true */
  readonly background?: boolean;
  /** Log each request to stdout. @default false */
  readonly verbose?: boolean;
  /** Per-function concurrency, queue bound and timeout scale. @default from ARX_LOCAL_CONCURRENCY / ARX_LOCAL_QUEUE / ARX_LOCAL_TIMEOUT_SCALE (10, 100, 3) */
  readonly limits?: PoolLimits;
  /** The tenant of the dev users the console's sign-in page offers. @default 'acme' */
  readonly consoleTenant?: string;
  /** Lifetime of the tokens the dev issuer gives the console (tests shorten it). @default 3600 */
  readonly consoleTokenTtlSeconds?: number;
}

export interface StopOptions {
  /** How long requests and deliveries in flight may take to finish before they are abandoned. @default 2000 */
  readonly graceMs?: number;
}

export interface LocalRuntime {
  readonly url: string;
  readonly idp: DevIdp;
  readonly stack: ProvisionedStack;
  /**
   * The union of the functions' environments (resource names resolved against the emulator), also
   * exported to `process.env` for test code. Handlers never see it: each runs with its own
   * function's environment (`functionEnv`).
   */
  readonly env: Readonly<Record<string, string>>;
  /** The environment a function's handler runs with: its template variables, the local IdP and prefix, `env` extras. */
  functionEnv(fnName: string): Readonly<Record<string, string>>;
  /** Calls a function's handler directly (as Lambda would). */
  invoke(fnName: string, event: unknown): Promise<unknown>;
  /** Stops schedules first, then the server, deliveries and state machines; resolves within `graceMs` (+ a few ms) in every state. */
  stop(o?: StopOptions): Promise<void>;
}

interface CompiledRoute {
  readonly route: RouteSpec;
  readonly re: RegExp;
  readonly names: string[];
}

function compile(route: RouteSpec): CompiledRoute {
  const names: string[] = [];
  const re = new RegExp(
    '^' +
      route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, n: string) => {
        names.push(n.replace(/\+$/, ''));
        return n.endsWith('+') ? '(.+)' : '([^/]+)';
      }) +
      '$',
  );
  return { route, re, names };
}

/** A Lambda context object for in-process invocations. */
export function lambdaContext(fnName: string, timeoutMs = 30_000): Context {
  const requestId = randomUUID();
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fnName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fnName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fnName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const isTextBody = (h: Record<string, string>): boolean =>
  !h['content-encoding'] &&
  /^(text\/|application\/(json|[\w.+-]+\+json|x-www-form-urlencoded|xml))/i.test(h['content-type'] ?? 'text/plain');

/** API Gateway's HTTP API payload limit. */
const APIGW_MAX_BODY = 10 * 1024 * 1024;
/** API Gateway waits at most 10 s for a Lambda authorizer. */
const APIGW_AUTHORIZER_TIMEOUT_MS = 10_000;

/**
 * What an HTTP API answers when its Lambda authorizer fails (throws, times out, returns a malformed
 * response): 500 `{"message":"Internal Server Error"}` — not 401/403, so a caller can tell an outage
 * from a bad token and retry.
 */
const AUTHORIZER_FAILURE: APIGatewayProxyStructuredResultV2 = {
  statusCode: 500,
  body: JSON.stringify({ message: 'Internal Server Error' }),
};
/** The local runtime's answer beyond a function's concurrency and queue: refused at once, with a hint when to retry. */
const THROTTLED: APIGatewayProxyStructuredResultV2 = {
  statusCode: 429,
  headers: { 'retry-after': '1' },
  body: JSON.stringify({ message: 'Too Many Requests' }),
};

/**
 * The local control plane: provisions the emulator from the synthesised template, serves the
 * topology's routes over HTTP as API Gateway v2 events (through the same Lambda authorizer),
 * delivers EventBridge events to the subscribed handlers (bus rule → SQS → handler), runs the
 * schedules and the state machines, all with the real handlers and adapters.
 */
/**
 * Each function's own environment, by topology name: the variables of its template entry resolved
 * against the provisioned stack, with `replace` substituted for the values of variables the entry
 * sets (the local IdP, a secret prefix) and `extra` over all (test knobs such as a fake Slack base).
 * A variable the entry lacks (a missing `uses`) is missing here too, as in Lambda.
 */
export function functionEnvironments(
  template: LocalRuntimeOptions['template'],
  stack: Pick<ProvisionedStack, 'resolve'>,
  replace: Readonly<Record<string, string>> = {},
  extra: Readonly<Record<string, string>> = {},
): Map<string, Readonly<Record<string, string>>> {
  const out = new Map<string, Readonly<Record<string, string>>>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = (stack.resolve(r.Properties?.Environment?.Variables ?? {}) ?? {}) as Record<string, string>;
    const fnName = vars.ARX_FUNCTION_NAME;
    if (!fnName) continue;
    const own: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) own[k] = k in replace ? replace[k]! : String(v);
    out.set(fnName, Object.freeze({ ...own, ...extra }));
  }
  return out;
}

/**
 * A function's INIT: imports its handler module inside its own environment (shared/settings.ts
 * `withEnvironment`) and checks the settings it declares against that environment.
 * @throws ConfigError naming every missing or malformed variable (a Lambda INIT failure)
 */
export async function initHandler(fnName: string, env: Readonly<Record<string, string>>): Promise<Handler> {
  const spec = functionSpec(fnName);
  const mod = (await withEnvironment(env, () => import(pathToFileURL(resolvePath(spec.entry)).href))) as {
    handler?: Handler;
    settings?: HandlerSettings;
  };
  if (typeof mod.handler !== 'function') throw new Error(`${spec.entry} exports no handler`);
  if (typeof mod.settings?.check !== 'function')
    throw new Error(`${spec.entry} exports no settings (handlerSettings in lambdas/shared/settings.ts)`);
  mod.settings.check(env);
  return mod.handler;
}

/** Invokes `handler` as its function: inside the function's own environment. */
export function invokeIn(
  env: Readonly<Record<string, string>>,
  handler: Handler,
  event: unknown,
  context: Context,
): Promise<any> {
  return withEnvironment(env, () => handler(event, context));
}

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8787;
  const prefix = opts.prefix ?? 'arx-local';
  const url = `http://${host}:${port}`;
  const stack = await provisionFromTemplate(opts.template, { prefix, apiUrl: url });
  const idp = await DevIdp.create(`${url}/.dev-idp`, 'arx');
  // ARX_FAULTS (local/faults.ts): injected once the stack is provisioned, so provisioning itself is clean.
  installFaultsFromEnv();

  // Each function runs with only its own environment, as in Lambda: a variable its template entry
  // lacks (a missing `uses`) is missing for its handler here too. The local IdP replaces the
  // configured one, and this runtime's secret prefix the stack's, where the template sets them.
  const localIdp: Record<string, string> = {
    ARX_IDP_ISSUER: idp.issuer,
    ARX_IDP_AUDIENCE: idp.audience,
    ARX_IDP_JWKS_URL: `${url}/.dev-idp/jwks.json`,
    ARX_IDP_TENANT_CLAIM: 'arx_tenant',
    ARX_IDP_ROLES_CLAIM: 'arx_roles',
  };
  // The secrets this runtime writes are its own, as its tables are: a second runtime on the same
  // emulator (a parallel test file, another developer's) never reads or overwrites them.
  const secretPrefix = `${prefix}/`;
  const fnEnvs = functionEnvironments(opts.template, stack, { ...localIdp, ARX_SECRET_PREFIX: secretPrefix }, opts.env);
  const fnByLogical = new Map<string, string>();
  for (const [id, r] of Object.entries(opts.template.Resources)) {
    const fnName = r.Type === 'AWS::Lambda::Function' ? r.Properties?.Environment?.Variables?.ARX_FUNCTION_NAME : null;
    if (typeof fnName === 'string') fnByLogical.set(id, fnName);
  }
  // The union, for test code only; the same variable must resolve to the same value everywhere.
  const env: Record<string, string> = {};
  for (const own of fnEnvs.values()) {
    for (const [k, v] of Object.entries(own)) {
      // Per-function metadata (name, service name, node options) is not shared state.
      if (k === 'ARX_FUNCTION_NAME' || k === 'NODE_OPTIONS' || k.startsWith('POWERTOOLS_') || k in localIdp) continue;
      if (opts.env && k in opts.env) continue;
      if (env[k] !== undefined && env[k] !== v)
        throw new Error(`local runtime: ${k} differs between functions (${env[k]} vs ${v})`);
      env[k] = v;
    }
  }
  Object.assign(env, localIdp, { ARX_API_URL: url, ARX_SECRET_PREFIX: secretPrefix, ...opts.env });
  Object.assign(process.env, env);
  const functionEnv = (fnName: string): Readonly<Record<string, string>> => {
    const e = fnEnvs.get(fnName);
    if (!e) throw new Error(`local runtime: the template has no function ${fnName}`);
    return e;
  };

  // A function's INIT: import its handler module inside its own environment and check the settings
  // it declares against that environment. A ConfigError fails every invocation of the function (as
  // a Lambda INIT failure does), not the runtime.
  const handlers = new Map<string, { handler: Handler } | { initError: Error }>();
  const load = async (fnName: string): Promise<Handler> => {
    let hit = handlers.get(fnName);
    if (!hit) {
      try {
        hit = { handler: await initHandler(fnName, functionEnv(fnName)) };
      } catch (e) {
        if ((e as Error)?.name !== 'ConfigError') throw e;
        hit = { initError: e as Error };
        process.stderr.write(`local runtime: ${fnName} fails at INIT: ${(e as Error).message}\n`);
      }
      handlers.set(fnName, hit);
    }
    if ('initError' in hit) throw hit.initError;
    return hit.handler;
  };
  // Each function runs as Lambda runs it: bounded concurrency (reserved concurrency), its timeout.
  const limits = opts.limits ?? limitsFromEnv();
  const pools = new Map<string, FunctionPool>();
  const run = (fnName: string, event: unknown, bounded: boolean, capMs = Infinity): Promise<unknown> => {
    let pool = pools.get(fnName);
    if (!pool) {
      pool = new FunctionPool(fnName, limits);
      pools.set(fnName, pool);
    }
    // The function's (scaled) timeout; API Gateway's own limits (the authorizer's 10 s) are not scaled.
    const timeoutMs = Math.min((functionSpec(fnName).timeoutSeconds ?? 10) * 1000 * (limits.timeoutScale ?? 1), capMs);
    return pool.run(
      () =>
        withEnvironment(functionEnv(fnName), async () => {
          const h = await load(fnName);
          return withTimeout(
            fnName,
            timeoutMs,
            Promise.resolve().then(() => h(event, lambdaContext(fnName, timeoutMs))),
          );
        }),
      bounded,
    );
  };
  /** Direct and asynchronous invocations (schedules, events, state machines) wait for a slot. */
  const invoke = (fnName: string, event: unknown): Promise<unknown> => run(fnName, event, false);
  // Fail at start, not on first request, when a handler module is broken; a function whose
  // environment lacks a setting starts (as it deploys) and fails when called.
  for (const f of TOPOLOGY.functions)
    await load(f.name).catch((e: unknown) => {
      if ((e as Error)?.name !== 'ConfigError') throw e;
    });

  const routes = TOPOLOGY.routes.map(compile);
  const consoleRoute = consoleRoutes({
    url,
    idp,
    tenant: opts.consoleTenant ?? 'acme',
    auditBucket: env.ARX_AUDIT_BUCKET,
    ...(opts.consoleTokenTtlSeconds ? { tokenTtlSeconds: opts.consoleTokenTtlSeconds } : {}),
  });

  let stopping = false;
  const inflight = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    if (stopping) {
      res.setHeader('connection', 'close');
      return send(res, { statusCode: 503, body: JSON.stringify({ message: 'Service Unavailable' }) });
    }
    const p = serve(req, res)
      .catch((e: unknown) => {
        if (e instanceof Throttled) return send(res, THROTTLED);
        if (!(e instanceof FunctionTimeout)) process.stderr.write(`local runtime: ${(e as Error).stack}\n`);
        else if (opts.verbose) process.stderr.write(`local runtime: ${e.message}\n`);
        // A function error or timeout behind an HTTP API: 500, as API Gateway answers it.
        if (!res.headersSent)
          send(res, { statusCode: 500, body: JSON.stringify({ message: 'Internal Server Error' }) });
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  });

  const send = (res: ServerResponse, r: APIGatewayProxyStructuredResultV2): void => {
    const headers: Record<string, string> = { ...(r.headers as Record<string, string>) };
    if (r.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
    res.writeHead(r.statusCode ?? 200, headers);
    res.end(r.body === undefined ? undefined : r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body);
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' && u.pathname === '/.dev-idp/jwks.json') {
      return send(res, { statusCode: 200, body: JSON.stringify(idp.jwks) });
    }
    if (await consoleRoute(req, res, u, method)) return;
    const match = routes
      .map((c) => ({ c, m: c.route.method === method ? c.re.exec(u.pathname) : null }))
      .find((x) => x.m);
    if (!match) return send(res, { statusCode: 404, body: JSON.stringify({ message: 'Not Found' }) });
    const body = await readBody(req, APIGW_MAX_BODY);
    if (body === null)
      return send(res, { statusCode: 413, body: JSON.stringify({ message: 'Request Entity Too Large' }) });
    const { c, m } = match as { c: CompiledRoute; m: RegExpExecArray };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    const query: Record<string, string> = {};
    for (const [k, v] of u.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    const routeKey = `${c.route.method} ${c.route.path}`;
    const requestContext: any = {
      accountId: '123456789012',
      apiId: 'local',
      domainName: host,
      domainPrefix: 'local',
      http: {
        method,
        path: u.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    };
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey,
      rawPath: u.pathname,
      rawQueryString: u.search.slice(1),
      headers,
      ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
      ...(c.names.length
        ? { pathParameters: Object.fromEntries(c.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) }
        : {}),
      requestContext,
      // As API Gateway HTTP APIs do: binary (non-text or content-encoded) bodies arrive base64-encoded.
      ...(body.length
        ? isTextBody(headers)
          ? { body: body.toString('utf8'), isBase64Encoded: false }
          : { body: body.toString('base64'), isBase64Encoded: true }
        : { isBase64Encoded: false }),
    };
    if (c.route.auth === 'bearer') {
      // As API Gateway does: no identity source → 401 without calling the authorizer.
      if (!headers.authorization)
        return send(res, { statusCode: 401, body: JSON.stringify({ message: 'Unauthorized' }) });
      let verdict: { isAuthorized: boolean; context?: Record<string, unknown> };
      try {
        verdict = (await run(
          AUTHORIZER_FN,
          {
            version: '2.0',
            type: 'REQUEST',
            routeArn: `arn:aws:execute-api:us-east-1:123456789012:local/$default/${method}${c.route.path}`,
            identitySource: [headers.authorization],
            routeKey,
            rawPath: u.pathname,
            rawQueryString: event.rawQueryString,
            headers,
            requestContext,
            pathParameters: event.pathParameters,
            queryStringParameters: event.queryStringParameters,
          },
          true,
          APIGW_AUTHORIZER_TIMEOUT_MS,
        )) as typeof verdict;
      } catch (e) {
        if (e instanceof Throttled) return send(res, THROTTLED);
        // The authorizer's "Unauthorized" error is API Gateway's 401; any other error, a timeout or
        // a malformed answer is its 500.
        if ((e as Error)?.message === 'Unauthorized')
          return send(res, { statusCode: 401, body: JSON.stringify({ message: 'Unauthorized' }) });
        if (opts.verbose) process.stderr.write(`local runtime: authorizer failed: ${(e as Error).message}\n`);
        return send(res, AUTHORIZER_FAILURE);
      }
      if (typeof verdict?.isAuthorized !== 'boolean') return send(res, AUTHORIZER_FAILURE);
      if (!verdict.isAuthorized) return send(res, { statusCode: 403, body: JSON.stringify({ message: 'Forbidden' }) });
      requestContext.authorizer = { lambda: verdict.context ?? {} };
    }
    const result = (await run(c.route.fn, event, true)) as APIGatewayProxyStructuredResultV2;
    if (opts.verbose) process.stdout.write(`${method} ${u.pathname} → ${result.statusCode}\n`);
    send(res, result);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

  const stops: (() => Promise<void> | void)[] = [];
  if (opts.background !== false) {
    // Schedules first: they stop before anything else does.
    stops.push(startSchedules(opts.template, fnByLogical, invoke));
    stops.push(await startEventDelivery(opts.template, stack, fnByLogical, prefix, invoke));
    stops.push(await startStateMachines(stack, fnByLogical, invoke));
  }

  return {
    url,
    idp,
    stack,
    env,
    functionEnv,
    invoke,
    stop: async (o: StopOptions = {}) => {
      if (stopping) return;
      stopping = true;
      const graceMs = o.graceMs ?? 2000;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Every part is asked to stop at once; whatever has not finished within the grace period
      // (a handler blocked on a hung emulator, a long poll) is abandoned, and its connection closed.
      const parts = Promise.allSettled([...stops.map(async (s) => s()), ...inflight]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([parts, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      server.closeAllConnections();
      await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 100).unref())]);
    },
  };
}

function targetFunction(target: any, fnByLogical: Map<string, string>): string | null {
  const arn = target?.Arn;
  const id = arn?.['Fn::GetAtt']?.[0] ?? (typeof arn?.Ref === 'string' ? arn.Ref : null);
  return id ? (fnByLogical.get(id) ?? null) : null;
}

/**
 * moto's EventBridge delivers to SQS only. The rules of one bus whose patterns `matchesPattern`
 * evaluates share one emulated queue (its rule on the bus filters by their sources); each message
 * is handed to every function whose rule matches it, each function reading its own in-process
 * queue in order, so a slow consumer never holds up another. The message is deleted once every
 * matching function has taken it; a failure leaves it to become visible again, and then only the
 * functions that have not taken it yet are called. A rule with any other pattern keeps a queue of
 * its own, filtered by the emulator. One receive and about one delete per event, instead of one of
 * each per rule (issue 19 §3).
 */
async function startEventDelivery(
  template: LocalRuntimeOptions['template'],
  stack: ProvisionedStack,
  fnByLogical: Map<string, string>,
  prefix: string,
  invoke: (fn: string, e: unknown) => Promise<unknown>,
): Promise<() => Promise<void>> {
  const sqs = new SQSClient({});
  const eb = new EventBridgeClient({});
  interface Member {
    readonly id: string;
    readonly pattern: Record<string, unknown>;
    readonly fns: string[];
  }
  interface Channel {
    readonly id: string;
    readonly bus: string;
    readonly pattern: Record<string, unknown>;
    /** Matched here; empty for a queue the emulator filters for one rule. */
    readonly members: Member[];
    readonly fns: string[];
  }
  const shared = new Map<string, Member[]>();
  const channels: Channel[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Events::Rule' || !r.Properties?.EventPattern) continue;
    const fns = (r.Properties.Targets ?? [])
      .map((t: any) => targetFunction(t, fnByLogical))
      .filter(Boolean) as string[];
    if (!fns.length) continue;
    const bus = String(stack.resolve(r.Properties.EventBusName ?? 'default'));
    const pattern = r.Properties.EventPattern as Record<string, unknown>;
    if (isSimplePattern(pattern) && Array.isArray(pattern.source)) {
      const list = shared.get(bus) ?? [];
      list.push({ id, pattern, fns });
      shared.set(bus, list);
    } else channels.push({ id, bus, pattern, members: [], fns });
  }
  for (const [bus, members] of shared) {
    channels.push({
      id: `bus-${bus.split(/[:/]/).pop()}`,
      bus,
      pattern: unionBySource(members.map((m) => m.pattern))!,
      members,
      fns: [...new Set(members.flatMap((m) => m.fns))],
    });
  }
  const queues: { channel: Channel; url: string }[] = [];
  for (const channel of channels) {
    const qname = `${prefix}-rule-${channel.id}`.slice(0, 80).replace(/[^a-zA-Z0-9_-]/g, '-');
    const q = await sqs.send(new CreateQueueCommand({ QueueName: qname, Attributes: { VisibilityTimeout: '5' } }));
    const qa = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl!, AttributeNames: ['QueueArn'] }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q.QueueUrl!, Attributes: { VisibilityTimeout: '5' } }));
    const ruleName = `${prefix}-${channel.id}`.slice(0, 64);
    await eb.send(
      new PutRuleCommand({
        Name: ruleName,
        EventBusName: channel.bus,
        EventPattern: JSON.stringify(channel.pattern),
        State: 'ENABLED',
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: ruleName,
        EventBusName: channel.bus,
        Targets: [{ Id: 'local', Arn: qa.Attributes!.QueueArn! }],
      }),
    );
    queues.push({ channel, url: q.QueueUrl! });
  }
  let running = true;
  // Aborts the long polls at stop, so a hung or vanished emulator cannot hold the shutdown.
  const abort = new AbortController();
  const loops = queues.map((q) => pollQueue(sqs, q.url, q.channel, invoke, () => running, abort.signal));
  return async () => {
    running = false;
    abort.abort();
    await Promise.allSettled(loops);
  };
}

/** Messages held in this process beyond which a queue's poller waits for its consumers. */
const LOCAL_BACKLOG = 50;

export async function pollQueue(
  sqs: SQSClient,
  url: string,
  channel: DeliveryChannel,
  invoke: (fn: string, e: unknown) => Promise<unknown>,
  running: () => boolean,
  signal: AbortSignal,
): Promise<void> {
  /** Messages received and not yet deleted: the (rule, function) targets still to take each, and those that have. */
  const held = new Map<string, { receipt: string; event: unknown; pending: Set<string>; done: Set<string> }>();
  const lanes = new Map<string, { items: { id: string; target: string }[]; wake?: () => void }>();
  const deletes: { Id: string; ReceiptHandle: string }[] = [];
  let deleteIds = 0;
  let flushing: Promise<void> | null = null;
  let wakePoller: (() => void) | undefined;
  const flush = (): Promise<void> =>
    (flushing ??= (async () => {
      while (deletes.length && running()) {
        const entries = deletes.splice(0, 10);
        await sqs
          .send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }), { abortSignal: signal })
          .catch(() => undefined); // not deleted: it becomes visible again and is found taken
      }
    })().finally(() => {
      flushing = null;
    }));
  const settle = (id: string) => {
    const h = held.get(id);
    if (!h || h.pending.size) return;
    if (targetsOf(channel, h.event).every((t) => h.done.has(t))) {
      held.delete(id);
      deletes.push({ Id: `m${deleteIds++}`, ReceiptHandle: h.receipt });
      void flush();
    }
    wakePoller?.();
  };
  const lane = (fn: string) => {
    let l = lanes.get(fn);
    if (l) return l;
    const created: { items: { id: string; target: string }[]; wake?: () => void } = { items: [] };
    lanes.set(fn, created);
    void (async () => {
      while (running()) {
        const item = created.items.shift();
        if (item === undefined) {
          await new Promise<void>((r) => (created.wake = r));
          created.wake = undefined;
          continue;
        }
        const h = held.get(item.id);
        if (!h) continue;
        try {
          await invoke(fn, h.event);
          h.done.add(item.target);
        } catch (e) {
          process.stderr.write(`local runtime: event delivery to ${fn} failed, will retry: ${(e as Error).message}\n`);
        }
        h.pending.delete(item.target);
        settle(item.id);
      }
    })();
    l = created;
    return l;
  };
  signal.addEventListener('abort', () => {
    for (const l of lanes.values()) l.wake?.();
    wakePoller?.();
  });
  while (running()) {
    if (held.size >= LOCAL_BACKLOG) {
      await new Promise<void>((r) => (wakePoller = r));
      wakePoller = undefined;
      continue;
    }
    try {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        { abortSignal: signal },
      );
      for (const msg of out.Messages ?? []) {
        const id = msg.MessageId ?? msg.ReceiptHandle!;
        const known = held.get(id);
        // visible again: a later delete needs the newest handle
        if (known) known.receipt = msg.ReceiptHandle!;
        let event: unknown;
        try {
          event = known?.event ?? JSON.parse(msg.Body ?? '{}');
        } catch {
          event = {};
        }
        const h = known ?? { receipt: msg.ReceiptHandle!, event, pending: new Set<string>(), done: new Set<string>() };
        held.set(id, h);
        // Targets neither taken nor still queued here: all of a new message's, a failed one's on a retry.
        const fresh = targetsOf(channel, event).filter((t) => !h.done.has(t) && !h.pending.has(t));
        for (const target of fresh) {
          h.pending.add(target);
          const l = lane(target.slice(target.indexOf(' ') + 1));
          l.items.push({ id, target });
          l.wake?.();
        }
        if (!h.pending.size) settle(id);
      }
    } catch {
      if (running()) await new Promise((r) => setTimeout(r, 500).unref());
    }
  }
  for (const l of lanes.values()) l.wake?.();
}

export interface DeliveryChannel {
  readonly id: string;
  /** The rules matched here; empty for a queue the emulator filters for one rule. */
  readonly members: readonly { id: string; pattern: Record<string, unknown>; fns: string[] }[];
  readonly fns: string[];
}

/**
 * What a message goes to, as `<rule> <function>`: each target of each rule that matches it (as
 * EventBridge would, a function two matching rules target is called twice), all of a one-rule queue's.
 */
function targetsOf(channel: DeliveryChannel, event: unknown): string[] {
  if (!channel.members.length) return channel.fns.map((fn) => `${channel.id} ${fn}`);
  return channel.members
    .filter((m) => matchesPattern(m.pattern, event))
    .flatMap((m) => m.fns.map((fn) => `${m.id} ${fn}`));
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;

/**
 * Runs scheduled rules once at start, then at their rate (scaled by ARX_LOCAL_SCHEDULE_SCALE,
 * default 1): a new runtime does not wait a whole period for its first sweep or seal. The stopper
 * clears every timer, so no schedule fires after stop begins.
 */
function startSchedules(
  template: LocalRuntimeOptions['template'],
  fnByLogical: Map<string, string>,
  invoke: (fn: string, e: unknown) => Promise<unknown>,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const scale = Number(process.env.ARX_LOCAL_SCHEDULE_SCALE ?? '1') || 1;
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Events::Rule' || !r.Properties?.ScheduleExpression) continue;
    const m = RATE.exec(String(r.Properties.ScheduleExpression));
    if (!m) continue;
    const unit = m[2]!.startsWith('minute') ? 60_000 : m[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
    const every = (Number(m[1]) * unit) / scale;
    for (const t of r.Properties.Targets ?? []) {
      const fn = targetFunction(t, fnByLogical);
      if (!fn) continue;
      const tick = () =>
        !stopped &&
        void invoke(fn, {
          id: randomUUID(),
          source: 'aws.events',
          'detail-type': 'Scheduled Event',
          resources: [id],
          detail: {},
          time: new Date().toISOString(),
        }).catch((e: unknown) =>
          process.stderr.write(`local runtime: schedule ${id} failed: ${(e as Error).message}\n`),
        );
      const first = setTimeout(tick, 0);
      first.unref();
      const timer = setInterval(tick, every);
      timer.unref();
      timers.push(first, timer);
    }
  }
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
  };
}

/** Runs executions started on the emulated state machines with the real handlers as tasks. */
async function startStateMachines(
  stack: ProvisionedStack,
  fnByLogical: Map<string, string>,
  invoke: (fn: string, e: unknown) => Promise<unknown>,
): Promise<() => Promise<void> | void> {
  const machines = [...stack.resources.entries()]
    .filter(([, r]) => r.type === 'AWS::StepFunctions::StateMachine')
    .map(([, r]) => ({ arn: r.ref, definition: JSON.parse(r.attrs.Definition!) as object }));
  if (!machines.length) return () => undefined;
  const arnToFn = new Map<string, string>();
  for (const [logical, fn] of fnByLogical) {
    const res = stack.resources.get(logical);
    if (res) {
      arnToFn.set(res.attrs.Arn!, fn);
      arnToFn.set(res.ref, fn);
    }
  }
  // The ASL runner is its own module (kill-switch capability); resolved at run time.
  const runner = './stepfunctions.js';
  const mod = (await import(runner)) as {
    startExecutionPoller(o: {
      sfn: SFNClient;
      machines: { arn: string; definition: object }[];
      invokeLambda: (arn: string, payload: unknown) => Promise<unknown>;
      intervalMs?: number;
    }): () => Promise<void> | void;
  };
  return mod.startExecutionPoller({
    sfn: new SFNClient({}),
    machines,
    intervalMs: 200,
    invokeLambda: async (arnOrName, payload) => {
      const base = String(arnOrName).replace(/:(\$LATEST|\d+)$/, '');
      const fn = arnToFn.get(base) ?? arnToFn.get(String(arnOrName));
      if (!fn) throw new Error(`local runtime: state machine task names unknown function ${arnOrName}`);
      return invoke(fn, payload);
    },
  });
}
