/**
 * `createMcpGateway()`: an MCP server that fronts one upstream MCP server (a connector of kind
 * `mcp`) and governs everything the client does through ARX (enforcement point C3.2).
 *
 * - Deny by default: `tools/list`, `prompts/list` and `resources/list` show only what the agent may
 *   use (`<connector>:tools:<tool>`, `<connector>:prompts:<name>`, `<connector>:resources:read`).
 * - `tools/call`: decided by ARX's PDP with `{definition_hash, arguments_hash}` in the context and
 *   recorded as an EnforcementEvent; a forbidden call never reaches the upstream and returns
 *   `isError` with `structuredContent.arx.status = "denied"`.
 * - A call that needs a human becomes an ARX action on the MCP connector whose params bind the
 *   tool, the canonical argument hash and the tool-definition hash; the gateway holds it (progress
 *   notifications when the client sent a progress token) up to `holdMs`, then answers
 *   `pending_approval`. The same call after approval runs upstream exactly once.
 * - MCP tasks (SEP-1686) for tools/call on stateful sessions: a call with `params.task` answers a
 *   task at once; a held one stays `working` until ARX decides, then runs once and its result is
 *   the task's (`tasks/result`); `tasks/cancel` voids the approval for this gateway (see tasks.ts).
 * - Pinning: each tool's canonical definition is hashed; a changed definition is quarantined
 *   (hidden, forbidden) until accepted in the pin store.
 * - Server → client traffic is relayed, governed: progress (under the client's token), logging,
 *   list changes, completions and resource subscriptions (decided like the prompt or resource they
 *   refer to); sampling and elicitation requests only when the client declared the capability and
 *   ARX permits `<connector>:sampling:create_message` / `<connector>:elicitation:create` (deny by
 *   default, recorded), else the upstream gets an error.
 * - A fresh upstream client (and for stdio upstreams, a fresh upstream process) and a fresh MCP
 *   server per session (GHSA-345p-7cg4-v4c7). The upstream gets only the connector's environment.
 *
 * @example
 * const gw = await createMcpGateway({ connector: 'memory-mcp', upstream: { command: 'mcp-server-memory' },
 *   arx: { apiUrl: process.env.ARX_URL!, bootstrapToken: process.env.ARX_BOOTSTRAP_TOKEN } });
 * await gw.serveStdio();
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResultSchema,
  CancelTaskRequestSchema,
  CompleteRequestSchema,
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  GetPromptRequestSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
  isInitializeRequest,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  McpError,
  ErrorCode,
  type CallToolRequest,
  type CallToolResult,
  type CreateTaskResult,
  type ServerCapabilities,
  type Task,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ArxClient } from '../index.js';
import { HttpArx, type ArxPort, type GatewayDecision, type HeldAction } from './arx.js';
import { argumentsHash, canonicalJson, operationName, sha256, toolDefinitionHash } from './canonical.js';
import { ArxBackedPinStore, MemoryPinStore, type PinStore } from './pins.js';
import { SessionEventStore } from './event-store.js';
import {
  createModernHandler,
  isModernRequest,
  MODERN_PROTOCOL_VERSIONS,
  type ModernHandler,
  serveModernNode,
} from './v2.js';
import { bareErrorMessages } from './errors.js';
import { isTerminalStatus, SessionTaskStore, TASK_POLL_MS, taskTtl } from './tasks.js';

export { canonicalJson, argumentsHash, toolDefinitionHash, operationName } from './canonical.js';
export { ArxBackedPinStore, MemoryPinStore, FilePinStore, type PinStore, type PinState } from './pins.js';
export {
  HttpArx,
  otlpTraces,
  type ArxPort,
  type CallSpan,
  type GatewayDecision,
  type EnforcementRecord,
  type ExecutionRecord,
} from './arx.js';

export const GATEWAY_VERSION = '0.1.0';
/** The `retry` a POST SSE stream's priming event gives a client that lost the stream (ms). */
export const SSE_RETRY_MS = 1000;
/**
 * Protocol versions spoken: 2025-11-25 (and what @modelcontextprotocol/sdk 1.x negotiates below it)
 * on every transport; 2026-07-28 (stateless) on Streamable HTTP (`listen`, `handleStateless`)
 * through the v2 server package (see ./v2.ts).
 */
export const PROTOCOL_VERSIONS = ['2025-11-25', ...MODERN_PROTOCOL_VERSIONS] as const;
export { MODERN_PROTOCOL_VERSIONS, isModernRequest } from './v2.js';

export type UpstreamSpec =
  | {
      readonly command: string;
      readonly args?: readonly string[];
      readonly env?: Readonly<Record<string, string>>;
      readonly cwd?: string;
    }
  | {
      readonly url: string;
      readonly headers?: Readonly<Record<string, string>>;
      /** The fetch the upstream client uses (e.g. one that refuses private addresses). @default globalThis.fetch */
      readonly fetch?: typeof fetch;
    };

/** A held call: the ARX action that carries its approval. */
export interface HeldEntry {
  action_id: string;
  approval_id?: string;
  expires_at?: string;
}

/**
 * Held calls by binding key (connector, tool, argument hash, definition hash), and the grants
 * already spent. In memory for one gateway process; the hosted gateway keeps them in DynamoDB so a
 * fresh server per request still runs an approved call exactly once.
 */
export interface HeldStore {
  get(key: string): Promise<HeldEntry | undefined>;
  set(key: string, entry: HeldEntry): Promise<void>;
  delete(key: string): Promise<void>;
  /** Drops every held call of one tool (its definition was quarantined). */
  deleteTool?(connector: string, tool: string): Promise<void>;
  /** Marks a grant spent: true the first time only. */
  spend(actionId: string): Promise<boolean>;
}

export class MemoryHeldStore implements HeldStore {
  private readonly held = new Map<string, HeldEntry>();
  private readonly spent = new Set<string>();
  async get(key: string) {
    return this.held.get(key);
  }
  async set(key: string, entry: HeldEntry) {
    this.held.set(key, entry);
  }
  async delete(key: string) {
    this.held.delete(key);
  }
  async deleteTool(connector: string, tool: string) {
    for (const k of [...this.held.keys()]) if (k.startsWith(`${connector}\u0000${tool}\u0000`)) this.held.delete(k);
  }
  async spend(actionId: string) {
    if (this.spent.has(actionId)) return false;
    this.spent.add(actionId);
    return true;
  }
}

export interface McpGatewayOptions {
  /** The connector name (kind `mcp`): operations are `<connector>:tools:<tool>` etc. */
  readonly connector: string;
  readonly upstream: UpstreamSpec;
  /** How to reach ARX: a ready port (tests, embedding) or the API URL and the agent's token. */
  readonly arx: ArxPort | { readonly apiUrl: string; readonly agentToken?: string; readonly bootstrapToken?: string };
  /** Longest time a held call waits for a human inside one tools/call. @default 50000 */
  readonly holdMs?: number;
  readonly pins?: PinStore;
  /** Held calls and spent grants. @default in memory (this gateway's sessions share it) */
  readonly held?: HeldStore;
  /**
   * Host names (no port; IPv6 in brackets) `listen` answers besides the loopback names and the
   * host it is bound to: a request whose Host or Origin names another host gets 403, so a web page
   * cannot reach a local gateway through DNS rebinding.
   */
  readonly allowedHosts?: readonly string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/** The host name of a Host header or Origin URL, lower-cased, IPv6 in brackets; null when unparsable. */
function hostnameOf(value: string, isOrigin: boolean): string | null {
  try {
    return new URL(isOrigin ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Why a request to the local listener is refused (DNS-rebinding protection per MCP's security best
 * practices), or null: the Host header must name an allowed host, and so must Origin when sent.
 */
export function rebindingRefusal(
  headers: { host?: string; origin?: string },
  allowed: ReadonlySet<string>,
): string | null {
  const host = headers.host ? hostnameOf(headers.host, false) : null;
  if (!host || !allowed.has(host)) return `Invalid Host header: ${headers.host ?? '(none)'}`;
  if (headers.origin !== undefined) {
    const origin = hostnameOf(headers.origin, true);
    if (!origin || !allowed.has(origin)) return `Invalid Origin header: ${headers.origin}`;
  }
  return null;
}

export interface McpGateway {
  readonly connector: string;
  /** Calls forwarded to the upstream (tools/call, prompts/get, resources/read) since start. */
  readonly stats: { upstreamCalls: number; sessions: number };
  /** A new session: a fresh MCP server bound to a fresh upstream; connect it to any server transport. */
  newSession(): Promise<GatewaySession>;
  /** Serves MCP on this process's stdin/stdout (one session). */
  serveStdio(): Promise<GatewaySession>;
  /**
   * Serves Streamable HTTP on `host:port` at `/mcp`: a session per `initialize` (2025-era clients),
   * and a fresh server per request for 2026-07-28 requests (./v2.ts).
   */
  listen(host: string, port: number): Promise<{ url: string; close(): Promise<void> }>;
  /**
   * Answers one Streamable HTTP request statelessly (no session id: a fresh server and upstream
   * client for this request only, closed after it; JSON responses, never SSE). 2025-era and
   * 2026-07-28 requests alike.
   */
  handleStateless(req: Request, parsedBody?: unknown): Promise<Response>;
  close(): Promise<void>;
}

export interface GatewaySession {
  readonly server: Server;
  close(): Promise<void>;
}

const text = (s: string) => [{ type: 'text' as const, text: s }];
const swallow = () => undefined;

/** What a tools/call relays from the upstream to the client: progress under the client's token, and cancellation. */
interface CallRelay {
  readonly progressToken?: string | number | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's notification union is not exported
  readonly notify?: (n: any) => Promise<void>;
  readonly signal?: AbortSignal;
}

/**
 * A tools/call that runs as an MCP task: `begin` creates the task (once; with the held call's
 * approval when there is one, which bounds its ttl) and `signal` aborts when it is cancelled.
 */
interface TaskHooks {
  begin(held?: HeldEntry & { key: string }): Promise<unknown>;
  readonly signal: AbortSignal;
}

function denied(reason: string, extra: Record<string, unknown> = {}): CallToolResult {
  return {
    isError: true,
    content: text(`ARX denied this call: ${reason}`),
    structuredContent: { arx: { status: 'denied', reason, ...extra } },
  };
}

function reasonOf(d: GatewayDecision): string {
  if (d.errors.length) return d.errors.join('; ');
  return d.determining_policies.length
    ? `forbidden by ${d.determining_policies.join(', ')}`
    : 'no policy permits it (deny by default)';
}

/** Splits a command line on whitespace, honouring '…' and "…" quoting. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/**
 * A tool's definition hash, once per definition object: every tools/list makes new objects, so a
 * changed definition is always hashed afresh, but a call does not re-hash the one it uses.
 */
const definitionHashes = new WeakMap<Tool, string>();
function definitionHash(t: Tool): string {
  let h = definitionHashes.get(t);
  if (h === undefined) {
    h = toolDefinitionHash(t);
    definitionHashes.set(t, h);
  }
  return h;
}

/**
 * The upstream's tools/call result is not parsed again on its way through: the gateway's own server
 * validates every result it sends against CallToolResultSchema, and the client validates it against
 * the tool's outputSchema. (The SDK client's callTool would parse it a second time.)
 */
const UpstreamResult = z.looseObject({});

export async function createMcpGateway(o: McpGatewayOptions): Promise<McpGateway> {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(o.connector))
    throw new Error(`invalid connector name "${o.connector}" (lowercase letters, digits, _ -)`);
  const arx: ArxPort =
    'evaluate' in o.arx
      ? o.arx
      : new HttpArx(
          new ArxClient({
            apiUrl: o.arx.apiUrl,
            ...(o.arx.agentToken ? { svid: o.arx.agentToken } : {}),
            ...(o.arx.bootstrapToken ? { bootstrapToken: o.arx.bootstrapToken } : {}),
          }),
          o.arx.apiUrl,
          `arx-mcp-gateway/${GATEWAY_VERSION}`,
        );
  const connector = o.connector;
  const holdMs = o.holdMs ?? 50_000;
  const localPins = o.pins ?? new MemoryPinStore();
  const pins: PinStore = arx.pins ? new ArxBackedPinStore(localPins, () => arx.pins!(o.connector)) : localPins;
  const stats = { upstreamCalls: 0, sessions: 0 };
  // Held calls by binding key, and approvals already spent: shared by all sessions of this gateway.
  const held: HeldStore = o.held ?? new MemoryHeldStore();
  const sessions = new Set<GatewaySession>();

  const decide = (op: string, context: Record<string, string>) =>
    arx.evaluate(`${connector}:${op}`, { connector, ...context });

  async function connectUpstream(): Promise<Client> {
    // Sampling and elicitation are declared to the upstream whatever the client declared: the
    // gateway answers them (relayed when the client declared the capability and ARX permits it,
    // else an error to the upstream), so the upstream's tools look the same to every client.
    const client = new Client(
      { name: 'arx-mcp-gateway', version: GATEWAY_VERSION },
      { capabilities: { sampling: {}, elicitation: { form: {}, url: {} } } },
    );
    if ('command' in o.upstream) {
      // Only the connector's environment: never the agent's token or the gateway's own variables.
      const env = { ...getDefaultEnvironment(), ...(o.upstream.env ?? {}) };
      await client.connect(
        new StdioClientTransport({
          command: o.upstream.command,
          args: [...(o.upstream.args ?? [])],
          env,
          stderr: 'ignore',
          ...(o.upstream.cwd ? { cwd: o.upstream.cwd } : {}),
        }),
      );
    } else {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(o.upstream.url), {
          requestInit: { headers: { ...(o.upstream.headers ?? {}) } },
          ...(o.upstream.fetch ? { fetch: o.upstream.fetch } : {}),
        }),
      );
    }
    return client;
  }

  /**
   * `tasks: false` for a session that lives for one request (stateless): a task it created could
   * never be read back, so it declares no tasks capability.
   */
  async function newSession(opts: { tasks?: boolean } = {}): Promise<GatewaySession> {
    const upstream = await connectUpstream();
    const up = upstream.getServerCapabilities() ?? {};
    const listChanged = (c: { listChanged?: boolean } | undefined) => (c?.listChanged ? { listChanged: true } : {});
    const capabilities: ServerCapabilities = {
      ...(up.tools ? { tools: listChanged(up.tools) } : {}),
      ...(up.prompts ? { prompts: listChanged(up.prompts) } : {}),
      ...(up.resources
        ? { resources: { ...listChanged(up.resources), ...(up.resources.subscribe ? { subscribe: true } : {}) } }
        : {}),
      ...(up.logging ? { logging: {} } : {}),
      ...(up.completions ? { completions: {} } : {}),
      // MCP tasks (SEP-1686) for tools/call: the gateway runs them itself (a held call is a task
      // that waits for its approval), whatever the upstream supports.
      ...(up.tools && opts.tasks !== false
        ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }
        : {}),
    };
    const taskStore = capabilities.tasks ? new SessionTaskStore() : undefined;
    const server = new Server(
      { name: `arx-mcp-gateway:${connector}`, version: GATEWAY_VERSION },
      {
        capabilities,
        ...(taskStore ? { taskStore } : {}),
        instructions: `Tools of connector "${connector}", governed by ARX: only what this agent may call is listed; held calls answer pending_approval until a human decides.`,
      },
    );
    // One `MCP error <code>: ` prefix on the client, not one per hop (see errors.ts).
    const connect = server.connect.bind(server);
    server.connect = (transport) => connect(bareErrorMessages(transport));
    /** The session's running tasks: what cancelling one stops. */
    const running = new Map<string, { abort: AbortController; held?: { key: string; action_id: string } }>();
    // The client's initialize is discovery evidence of this agent (best effort, never in the way).
    server.oninitialized = () => {
      const client = server.getClientVersion();
      if (!client || !arx.handshake) return;
      const initialize = {
        method: 'initialize' as const,
        params: { clientInfo: client, capabilities: server.getClientCapabilities() ?? {} },
      };
      void arx.handshake(connector, initialize).catch(() => undefined);
    };
    let tools = new Map<string, Tool>();
    /** The client's tools/call requests in flight (request id → tool), to relate upstream requests to. */
    const inflight = new Map<string | number, string>();
    /**
     * Upstream progress by the gateway's own token. Not the SDK's onprogress: it drops a progress
     * notification that arrives in the same read as the result (the handler is gone by then).
     */
    const progressRelays = new Map<string, (p: { progress: number; total?: number; message?: string }) => void>();
    let progressSeq = 0;
    upstream.setNotificationHandler(ProgressNotificationSchema, (n) => {
      const { progressToken, ...p } = n.params;
      progressRelays.get(String(progressToken))?.(p);
    });

    const allTools = async (): Promise<Tool[]> => {
      const out: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await upstream.listTools(cursor ? { cursor } : {});
        out.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      tools = new Map(out.map((t) => [t.name, t]));
      return out;
    };

    /** The decision for one tool with its current definition: pin first, then policy. */
    const toolDecision = async (
      t: Tool,
      args?: unknown,
    ): Promise<{
      ok: boolean;
      reason?: string;
      d?: GatewayDecision;
      defHash: string;
      argHash?: string;
      extra?: Record<string, unknown>;
    }> => {
      const defHash = definitionHash(t);
      const pin = await pins.check(connector, t.name, defHash);
      if (pin.status === 'quarantined') {
        await held.deleteTool?.(connector, t.name);
        return {
          ok: false,
          defHash,
          reason: `the definition of tool "${t.name}" changed (pinned sha256:${pin.pinned}, now sha256:${pin.seen}); it is quarantined until an admin accepts the new definition`,
          extra: { quarantined: true, definition_hash: pin.seen, pinned_hash: pin.pinned },
        };
      }
      const argHash = args === undefined ? undefined : argumentsHash(args);
      const d = await decide(operationName('tools', t.name), {
        tool: t.name,
        definition_hash: defHash,
        ...(argHash ? { arguments_hash: argHash } : {}),
      });
      return d.effect === 'permit'
        ? { ok: true, d, defHash, ...(argHash ? { argHash } : {}) }
        : { ok: false, d, defHash, reason: reasonOf(d), ...(argHash ? { argHash } : {}) };
    };

    server.setRequestHandler(ListToolsRequestSchema, async () => {
      const visible: Tool[] = [];
      // Task support is the gateway's, not the upstream's: with tasks every tool may be called as
      // a task (the gateway makes it one), and a plain call works too (for a tool the upstream runs
      // only as a task, the gateway's upstream call is a task). A copy: the pinned hash is the upstream's.
      const listed = (t: Tool): Tool =>
        taskStore
          ? { ...t, execution: { ...t.execution, taskSupport: 'optional' } }
          : t.execution?.taskSupport === 'required'
            ? { ...t, execution: { ...t.execution, taskSupport: 'forbidden' } }
            : t;
      for (const t of await allTools()) if ((await toolDecision(t)).ok) visible.push(listed(t));
      return { tools: visible, _meta: { 'arx.dev/visibility': 'private' } };
    });

    const record = async (
      op: string,
      t: Tool | undefined,
      decision: 'permit' | 'forbid',
      ctx: Record<string, string>,
      ms: number,
      d: GatewayDecision | undefined,
      extra: { trace_id?: string; action_id?: string; traceparent?: string; correlation_id?: string } = {},
    ) => {
      await arx.record({
        action_name: `${connector}:${op}`,
        target: t ? `${connector}/${t.name}@sha256:${ctx.definition_hash ?? ''}` : connector,
        context_hash: sha256(canonicalJson(ctx)),
        decision,
        decision_ms: ms,
        bundle_version: d?.bundle_version ?? null,
        ...(extra.trace_id ? { trace_id: extra.trace_id } : {}),
        ...(extra.action_id ? { action_id: extra.action_id } : {}),
        ...(extra.traceparent ? { traceparent: extra.traceparent } : {}),
        ...(extra.correlation_id ? { correlation_id: extra.correlation_id } : {}),
      });
    };

    /** Runs the call upstream and reports it (spans); the report never fails the call. */
    const runUpstream = async (
      name: string,
      args: Record<string, unknown>,
      report: { op: string; correlation_id: string; action_id?: string; traceparent?: string; d: GatewayDecision },
      relay: CallRelay = {},
    ): Promise<CallToolResult> => {
      const started_at = new Date().toISOString();
      stats.upstreamCalls++;
      let result: CallToolResult | undefined;
      const { progressToken, notify, signal } = relay;
      // Relayed progress is sent before the result (a notification after it would be dropped).
      const relayed: Promise<unknown>[] = [];
      const own = progressToken !== undefined && notify ? `arx-${++progressSeq}` : undefined;
      if (own)
        progressRelays.set(own, (p) =>
          relayed.push(notify!({ method: 'notifications/progress', params: { ...p, progressToken } }).catch(swallow)),
        );
      try {
        if (tools.get(name)?.execution?.taskSupport === 'required') {
          // The upstream runs this tool only as a task: the gateway makes the upstream call one and
          // waits for its result (the client's call is the gateway's own task or a plain call).
          for await (const m of upstream.experimental.tasks.callToolStream(
            { name, arguments: args },
            UpstreamResult as unknown as typeof CallToolResultSchema,
            { task: { ttl: 600_000 }, timeout: 600_000, ...(signal ? { signal } : {}) },
          )) {
            if (m.type === 'result') result = m.result as CallToolResult;
            else if (m.type === 'error') throw m.error;
          }
          if (!result)
            throw new McpError(ErrorCode.InternalError, `the upstream task of ${name} ended without a result`);
          return result;
        }
        result = (await upstream.request(
          {
            method: 'tools/call',
            params: { name, arguments: args, ...(own ? { _meta: { progressToken: own } } : {}) },
          },
          UpstreamResult,
          // An upstream that reports progress is a long-running one: up to 10 minutes instead of 1.
          { ...(signal ? { signal } : {}), ...(own ? { timeout: 600_000 } : {}) },
        )) as CallToolResult;
        if (relayed.length) await Promise.all(relayed);
        return result;
      } finally {
        if (own) progressRelays.delete(own);
        await arx
          .executed?.({
            action_name: `${connector}:${report.op}`,
            correlation_id: report.correlation_id,
            ...(report.action_id ? { action_id: report.action_id } : {}),
            ...(report.traceparent ? { traceparent: report.traceparent } : {}),
            decision: report.d,
            started_at,
            ended_at: new Date().toISOString(),
            is_error: !result || result.isError === true,
          })
          .catch(() => undefined);
      }
    };

    server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult | CreateTaskResult> => {
      if (req.params.task && taskStore) return callAsTask(req);
      inflight.set(extra.requestId, req.params.name);
      const start_ms = arx.span ? performance.timeOrigin + performance.now() : 0;
      let result: CallToolResult | undefined;
      try {
        result = await callTool(req, extra);
        return result;
      } finally {
        inflight.delete(extra.requestId);
        if (arx.span) reportSpan(req, start_ms, result);
      }
    });

    /**
     * A task-augmented tools/call (SEP-1686): answered with the task at once; the call is decided,
     * held for its approval (status `working`, statusMessage naming the approval and its expiry:
     * the input it waits for is a human's in ARX, not the client's, so not `input_required`) and
     * run upstream in the background. Its CallToolResult is the task's result (`tasks/result`):
     * `completed`, or `failed` when isError (denied, rejected, expired, or the tool's own error).
     */
    const callAsTask = async (req: CallToolRequest): Promise<CreateTaskResult> => {
      const store = taskStore!;
      const abort = new AbortController();
      const start_ms = arx.span ? performance.timeOrigin + performance.now() : 0;
      let task: Task | undefined;
      let created!: (t: Task) => void;
      let refused!: (e: unknown) => void;
      const first = new Promise<Task>((res, rej) => {
        created = res;
        refused = rej;
      });
      const hooks: TaskHooks = {
        signal: abort.signal,
        async begin(h) {
          if (task) return;
          const t = await store.createTask(
            { ttl: taskTtl(req.params.task?.ttl, h?.expires_at), pollInterval: TASK_POLL_MS },
            0,
            req,
          );
          running.set(t.taskId, { abort, ...(h ? { held: { key: h.key, action_id: h.action_id } } : {}) });
          if (h)
            await store.updateTaskStatus(
              t.taskId,
              'working',
              `waiting for ARX approval ${h.approval_id ?? ''} (action ${h.action_id}, expires ${h.expires_at ?? '?'}); the call runs once it is approved`,
            );
          task = (await store.getTask(t.taskId)) ?? t;
          created(task);
        },
      };
      const status = (t: Task) =>
        server.notification({ method: 'notifications/tasks/status', params: t }).catch(swallow);
      void callTool(req, { sendNotification: (n) => server.notification(n), signal: abort.signal }, hooks)
        .then(async (result) => {
          await hooks.begin();
          if (arx.span) reportSpan(req, start_ms, result);
          if (abort.signal.aborted) return;
          await store.storeTaskResult(task!.taskId, result.isError ? 'failed' : 'completed', result);
        })
        .catch(async (e: unknown) => {
          if (!task) return refused(e);
          if (abort.signal.aborted) return;
          const message = (e as Error).message ?? String(e);
          await store.storeTaskResult(task.taskId, 'failed', { isError: true, content: text(message) });
        })
        .catch(swallow)
        .finally(async () => {
          if (!task) return;
          running.delete(task.taskId);
          const now = await store.getTask(task.taskId);
          if (now && isTerminalStatus(now.status) && now.status !== 'cancelled') await status(now);
        });
      return { task: await first };
    };

    if (taskStore)
      // Cancelling a held task voids its approval for this gateway (ARX has no agent-side cancel of
      // an action): the grant is marked spent and the binding dropped, so it never runs the call.
      server.setRequestHandler(CancelTaskRequestSchema, async (req) => {
        const id = req.params.taskId;
        const t = await taskStore.getTask(id);
        if (!t) throw new McpError(ErrorCode.InvalidParams, `Task not found: ${id}`);
        if (isTerminalStatus(t.status))
          throw new McpError(ErrorCode.InvalidParams, `Cannot cancel task in terminal status: ${t.status}`);
        const r = running.get(id);
        r?.abort.abort();
        let message = 'Cancelled by the client.';
        if (r?.held) {
          await held.delete(r.held.key);
          await held.spend(r.held.action_id);
          message += ` The approval of ARX action ${r.held.action_id} will not be used.`;
        }
        await taskStore.updateTaskStatus(id, 'cancelled', message);
        const after = (await taskStore.getTask(id))!;
        void server.notification({ method: 'notifications/tasks/status', params: after }).catch(swallow);
        return after;
      });

    /** The call's span (not awaited: the port buffers and exports in the background). */
    const reportSpan = (req: CallToolRequest, start_ms: number, result: CallToolResult | undefined) => {
      const a = (result?.structuredContent as { arx?: Record<string, unknown> } | undefined)?.arx;
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const status = str(a?.status);
      const tp = req.params._meta?.traceparent;
      const outcome =
        status === 'denied' || status === 'pending_approval'
          ? status
          : result && !result.isError
            ? 'executed'
            : 'failed';
      const extra = {
        reason: str(a?.reason),
        approval_id: str(a?.approval_id),
        action_id: str(a?.action_id),
        definition_hash: str(a?.definition_hash),
        traceparent: typeof tp === 'string' ? tp : undefined,
      };
      try {
        arx.span!({
          action_name: `${connector}:${operationName('tools', req.params.name)}`,
          connector,
          tool: req.params.name,
          start_ms,
          end_ms: performance.timeOrigin + performance.now(),
          outcome,
          ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)),
        });
      } catch {
        // a span never fails a call
      }
    };

    const callTool = async (
      req: CallToolRequest,
      // biome-ignore lint/suspicious/noExplicitAny: the SDK's RequestHandlerExtra generics are not worth spelling out
      extra: { sendNotification: (n: any) => Promise<void>; signal: AbortSignal },
      task?: TaskHooks,
    ): Promise<CallToolResult> => {
      const name = req.params.name;
      const args = req.params.arguments ?? {};
      const traceparent = typeof req.params._meta?.traceparent === 'string' ? req.params._meta.traceparent : undefined;
      const traceId = traceparent?.split('-')[1];
      const callId = randomUUID();
      const traced = {
        ...(traceId ? { trace_id: traceId } : {}),
        ...(traceparent ? { traceparent } : {}),
        correlation_id: callId,
      };
      let t = tools.get(name);
      if (!t) {
        await allTools();
        t = tools.get(name);
      }
      if (!t) return denied(`unknown tool "${name}"`);
      const started = performance.now();
      const v = await toolDecision(t, args);
      const op = operationName('tools', t.name);
      const ctx = {
        connector,
        tool: t.name,
        definition_hash: v.defHash,
        arguments_hash: v.argHash ?? argumentsHash(args),
      };
      const ms = performance.now() - started;
      if (!v.ok) {
        await record(op, t, 'forbid', ctx, ms, v.d, traced).catch(() => undefined);
        return denied(v.reason!, {
          definition_hash: v.defHash,
          ...(v.d?.bundle_version ? { bundle_version: v.d.bundle_version } : {}),
          ...(v.extra ?? {}),
        });
      }
      const d = v.d!;
      if (d.approval === 'hitl')
        return heldCall(
          t,
          op,
          args,
          ctx,
          d,
          traceparent,
          req.params._meta?.progressToken,
          extra.sendNotification,
          task,
        );
      // Audit first: a governed call whose record cannot be written does not run.
      try {
        await record(op, t, 'permit', ctx, ms, d, traced);
      } catch (e) {
        return denied(`the decision could not be recorded, so the call did not run (${(e as Error).message})`);
      }
      await task?.begin();
      return runUpstream(
        name,
        args,
        { op, correlation_id: callId, ...(traceparent ? { traceparent } : {}), d },
        { progressToken: req.params._meta?.progressToken, notify: extra.sendNotification, signal: extra.signal },
      );
    };

    const heldCall = async (
      t: Tool,
      op: string,
      args: Record<string, unknown>,
      ctx: { connector: string; tool: string; definition_hash: string; arguments_hash: string },
      d: GatewayDecision,
      traceparent: string | undefined,
      progressToken: string | number | undefined,
      // biome-ignore lint/suspicious/noExplicitAny: the SDK's notification union is not exported
      notify: (n: any) => Promise<void>,
      task?: TaskHooks,
    ): Promise<CallToolResult> => {
      const key = `${connector}\u0000${t.name}\u0000${ctx.arguments_hash}\u0000${ctx.definition_hash}`;
      let entry = await held.get(key);
      let a: HeldAction;
      if (!entry) {
        try {
          a = await arx.submitHeld({
            connector,
            operation: op,
            params: {
              tool: t.name,
              arguments: args,
              arguments_hash: ctx.arguments_hash,
              definition_hash: ctx.definition_hash,
              bundle_version: d.bundle_version,
            },
            reason: `MCP tools/call ${t.name} through arx mcp-gateway`,
            ...(traceparent ? { traceparent } : {}),
          });
        } catch (e) {
          return denied(`the approval could not be requested: ${(e as Error).message}`);
        }
        if (a.status === 'denied') return denied(a.decision ? reasonOf(a.decision) : 'policy forbids it');
        entry = {
          action_id: a.action_id,
          ...(a.approval_id ? { approval_id: a.approval_id } : {}),
          ...(a.expires_at ? { expires_at: a.expires_at } : {}),
        };
        await held.set(key, entry);
      }
      // A task waits until ARX decides or the approval expires (ARX then reports it expired).
      await task?.begin({ ...entry, key });
      const expiry = entry.expires_at ? Date.parse(entry.expires_at) : Number.NaN;
      const until = task ? (Number.isFinite(expiry) ? expiry : Date.now() + 3_600_000) + 30_000 : Date.now() + holdMs;
      let tick = 0;
      const progress = async () => {
        if (progressToken !== undefined)
          await notify({
            method: 'notifications/progress',
            params: {
              progressToken,
              progress: ++tick,
              message: `waiting for approval ${entry!.approval_id ?? ''} (expires ${entry!.expires_at ?? '?'})`,
            },
          }).catch(() => undefined);
      };
      if (holdMs > 0) await progress();
      for (;;) {
        try {
          a = await arx.getAction(entry.action_id, Math.max(0, Math.min(5, Math.floor((until - Date.now()) / 1000))));
        } catch (e) {
          return denied(`the held call could not be read: ${(e as Error).message}`);
        }
        if (task?.signal.aborted) return denied('the task was cancelled');
        if (!['pending_approval', 'pending_execution', 'executing'].includes(a.status) || Date.now() >= until) break;
        await progress();
        if (Date.now() + 250 >= until) break;
        if (a.status !== 'pending_approval') await new Promise((r) => setTimeout(r, 100));
      }
      switch (a.status) {
        case 'executed': {
          await held.delete(key);
          if (!(await held.spend(a.action_id)))
            return denied(`approval ${entry.approval_id ?? ''} was already used for one execution`);
          const grant = (a.result ?? {}) as { arguments_hash?: string; definition_hash?: string };
          if (grant.arguments_hash !== ctx.arguments_hash || grant.definition_hash !== ctx.definition_hash)
            return denied('the approval is bound to other arguments or another tool definition');
          // Re-check the pin right before running: a rug pull while the call was held voids the approval.
          const now = await allTools();
          const cur = now.find((x) => x.name === t.name);
          if (!cur || definitionHash(cur) !== ctx.definition_hash)
            return denied(
              `the definition of tool "${t.name}" changed while the call was held; the approval does not cover it`,
            );
          return runUpstream(
            t.name,
            args,
            { op, correlation_id: a.action_id, action_id: a.action_id, ...(traceparent ? { traceparent } : {}), d },
            { progressToken, notify, ...(task ? { signal: task.signal } : {}) },
          );
        }
        case 'pending_approval':
        case 'pending_execution':
        case 'executing': {
          const expires = a.expires_at ?? entry.expires_at;
          return {
            isError: true,
            content: text(
              `This call needs a human approval (approval ${entry.approval_id}, expires ${expires}). Call the tool again with the same arguments once it is approved.`,
            ),
            structuredContent: {
              arx: {
                status: 'pending_approval',
                approval_id: entry.approval_id,
                action_id: entry.action_id,
                expires_at: expires,
                definition_hash: ctx.definition_hash,
                arguments_hash: ctx.arguments_hash,
              },
            },
          };
        }
        case 'rejected':
          await held.delete(key);
          return denied(`an approver denied approval ${entry.approval_id}`, { approval_id: entry.approval_id });
        case 'expired':
          await held.delete(key);
          return denied(`approval ${entry.approval_id} expired before a decision`, { approval_id: entry.approval_id });
        default:
          await held.delete(key);
          return denied(`the held call ended ${a.status}${a.error?.message ? `: ${a.error.message}` : ''}`, {
            approval_id: entry.approval_id,
          });
      }
    };

    if (up.prompts) {
      server.setRequestHandler(ListPromptsRequestSchema, async (req) => {
        const page = await upstream.listPrompts(req.params?.cursor ? { cursor: req.params.cursor } : {});
        const visible = [];
        for (const p of page.prompts)
          if ((await decide(operationName('prompts', p.name), { prompt: p.name })).effect === 'permit') visible.push(p);
        return { prompts: visible, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
      });
      server.setRequestHandler(GetPromptRequestSchema, async (req) => {
        const d = await decide(operationName('prompts', req.params.name), { prompt: req.params.name });
        if (d.effect !== 'permit')
          throw new McpError(ErrorCode.InvalidRequest, `ARX denied prompts/get ${req.params.name}: ${reasonOf(d)}`);
        stats.upstreamCalls++;
        return upstream.getPrompt(req.params);
      });
    }
    if (up.resources) {
      const mayRead = async (uri?: string) => (await decide('resources:read', uri ? { uri } : {})).effect === 'permit';
      server.setRequestHandler(ListResourcesRequestSchema, async (req) =>
        (await mayRead()) ? upstream.listResources(req.params ?? {}) : { resources: [] },
      );
      server.setRequestHandler(ListResourceTemplatesRequestSchema, async (req) =>
        (await mayRead()) ? upstream.listResourceTemplates(req.params ?? {}) : { resourceTemplates: [] },
      );
      server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
        if (!(await mayRead(req.params.uri)))
          throw new McpError(ErrorCode.InvalidRequest, `ARX denied resources/read ${req.params.uri}`);
        stats.upstreamCalls++;
        return upstream.readResource(req.params);
      });
    }

    // ---- Server → client traffic of the upstream, relayed (see README: "What is relayed").
    if (up.logging) {
      // The client's level goes to the upstream, which filters; its messages come back as they are.
      server.setRequestHandler(SetLevelRequestSchema, async (req) => {
        await upstream.setLoggingLevel(req.params.level);
        return {};
      });
      upstream.setNotificationHandler(LoggingMessageNotificationSchema, (n) => server.notification(n).catch(swallow));
    }
    if (up.tools?.listChanged)
      upstream.setNotificationHandler(ToolListChangedNotificationSchema, () =>
        server.sendToolListChanged().catch(swallow),
      );
    if (up.prompts?.listChanged)
      upstream.setNotificationHandler(PromptListChangedNotificationSchema, () =>
        server.sendPromptListChanged().catch(swallow),
      );
    if (up.resources?.listChanged)
      upstream.setNotificationHandler(ResourceListChangedNotificationSchema, () =>
        server.sendResourceListChanged().catch(swallow),
      );
    if (up.completions) {
      // A completion reveals what the thing it completes holds: decided like that thing.
      server.setRequestHandler(CompleteRequestSchema, async (req) => {
        const ref = req.params.ref;
        const d =
          ref.type === 'ref/prompt'
            ? await decide(operationName('prompts', ref.name), { prompt: ref.name })
            : await decide('resources:read', { uri: ref.uri });
        if (d.effect !== 'permit')
          throw new McpError(
            ErrorCode.InvalidRequest,
            `ARX denied completion/complete for ${ref.type === 'ref/prompt' ? `prompt ${ref.name}` : `resource ${ref.uri}`}: ${reasonOf(d)}`,
          );
        return upstream.complete(req.params);
      });
    }
    if (up.resources?.subscribe) {
      // Subscribing is reading: decided as resources:read of the URI, when subscribing and again
      // for every update relayed (an update after the permission ended is dropped and unsubscribed).
      const subscribed = new Set<string>();
      server.setRequestHandler(SubscribeRequestSchema, async (req) => {
        const d = await decide('resources:read', { uri: req.params.uri });
        if (d.effect !== 'permit')
          throw new McpError(
            ErrorCode.InvalidRequest,
            `ARX denied resources/subscribe ${req.params.uri}: ${reasonOf(d)}`,
          );
        await upstream.subscribeResource(req.params);
        subscribed.add(req.params.uri);
        return {};
      });
      server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
        subscribed.delete(req.params.uri);
        await upstream.unsubscribeResource(req.params);
        return {};
      });
      upstream.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
        const uri = n.params.uri;
        if (!subscribed.has(uri)) return;
        if ((await decide('resources:read', { uri })).effect !== 'permit') {
          subscribed.delete(uri);
          await upstream.unsubscribeResource({ uri }).catch(swallow);
          return;
        }
        await server.sendResourceUpdated(n.params).catch(swallow);
      });
    }

    /**
     * A request the upstream sends the client (sampling, elicitation): relayed only when the client
     * declared the capability and ARX permits `<connector>:sampling:create_message` /
     * `<connector>:elicitation:create` without a human (deny by default), and recorded either way.
     * Anything else answers the upstream with an error; the client never sees it.
     */
    const serverRequest = async <R>(
      method: 'sampling/createMessage' | 'elicitation/create',
      context: Record<string, string>,
      supported: boolean,
      relay: (options: { relatedRequestId?: string | number; signal: AbortSignal }) => Promise<R>,
      signal: AbortSignal,
    ): Promise<R> => {
      const op = method === 'sampling/createMessage' ? 'sampling:create_message' : 'elicitation:create';
      const calls = [...inflight];
      const tool = calls.length === 1 ? calls[0]![1] : undefined;
      const ctx = { connector, method, ...(tool ? { tool } : {}), ...context };
      const started = performance.now();
      let refusal: string | undefined;
      let d: GatewayDecision | undefined;
      if (!supported) refusal = `the MCP client did not declare the capability ${method} needs`;
      else {
        d = await decide(op, ctx);
        if (d.effect !== 'permit') refusal = `ARX denied ${method} from the upstream: ${reasonOf(d)}`;
        else if (d.approval === 'hitl')
          refusal = `${method} from the upstream needs a human approval, which the gateway cannot hold a server request for`;
      }
      const ms = performance.now() - started;
      if (refusal) {
        await record(op, undefined, 'forbid', ctx, ms, d).catch(swallow);
        throw new McpError(ErrorCode.InvalidRequest, refusal);
      }
      try {
        await record(op, undefined, 'permit', ctx, ms, d);
      } catch (e) {
        throw new McpError(ErrorCode.InternalError, `the decision could not be recorded (${(e as Error).message})`);
      }
      // On Streamable HTTP, the request goes on the stream of the client's tools/call it belongs to.
      return relay({ ...(calls.length === 1 ? { relatedRequestId: calls[0]![0] } : {}), signal });
    };
    upstream.setRequestHandler(CreateMessageRequestSchema, (req, extra) =>
      serverRequest(
        'sampling/createMessage',
        {},
        Boolean(server.getClientCapabilities()?.sampling) &&
          (!(req.params.tools || req.params.toolChoice) || Boolean(server.getClientCapabilities()?.sampling?.tools)),
        (options) => server.createMessage(req.params, options),
        extra.signal,
      ),
    );
    upstream.setRequestHandler(ElicitRequestSchema, (req, extra) => {
      const mode = req.params.mode ?? 'form';
      const el = server.getClientCapabilities()?.elicitation;
      // An empty elicitation capability is form mode (protocol versions before URL mode).
      const supported = mode === 'url' ? Boolean(el?.url) : Boolean(el && (el.form || !el.url));
      return serverRequest(
        'elicitation/create',
        { mode, ...(mode === 'url' && 'url' in req.params ? { url: String(req.params.url) } : {}) },
        supported,
        (options) => server.elicitInput(req.params, options),
        extra.signal,
      );
    });
    upstream.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) =>
      server.getClientCapabilities()?.elicitation?.url ? server.notification(n).catch(swallow) : undefined,
    );

    stats.sessions++;
    const session: GatewaySession = {
      server,
      async close() {
        sessions.delete(session);
        for (const r of running.values()) r.abort.abort();
        taskStore?.clear();
        await server.close().catch(() => undefined);
        await upstream.close().catch(() => undefined);
      },
    };
    server.onclose = () => void upstream.close().catch(() => undefined);
    sessions.add(session);
    return session;
  }

  // 2026-07-28 requests (./v2.ts): a fresh v2 server and governed session per request, made lazily.
  const modern: Partial<Record<'auto' | 'json', ModernHandler>> = {};
  const modernHandler = (mode: 'auto' | 'json') =>
    (modern[mode] ??= createModernHandler(() => newSession({ tasks: false }), {
      responseMode: mode,
      name: `arx-mcp-gateway:${connector}`,
      version: GATEWAY_VERSION,
    }));

  return {
    connector,
    stats,
    newSession: () => newSession(),
    async serveStdio() {
      const s = await newSession();
      await s.server.connect(new StdioServerTransport());
      return s;
    },
    async listen(host, port) {
      const live = new Map<string, { transport: StreamableHTTPServerTransport; session: GatewaySession }>();
      const readBody = async (req: IncomingMessage): Promise<unknown> => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const s = Buffer.concat(chunks).toString('utf8');
        return s ? JSON.parse(s) : undefined;
      };
      const bound = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      const allowed = new Set(
        [...LOOPBACK_NAMES, ...(WILDCARD.has(bound) ? [] : [bound]), ...(o.allowedHosts ?? [])].map((h) =>
          h.toLowerCase(),
        ),
      );
      const http: HttpServer = createServer(async (req, res) => {
        const refused = rebindingRefusal(
          { host: req.headers.host, ...(req.headers.origin !== undefined ? { origin: req.headers.origin } : {}) },
          allowed,
        );
        if (refused) {
          res
            .writeHead(403, { 'content-type': 'application/json' })
            .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: refused }, id: null }));
          return;
        }
        // Tool lists are per principal: never cached by anyone else (also over the SDK's own SSE headers).
        const PRIVATE = 'private, no-cache, no-store, no-transform';
        res.setHeader('cache-control', PRIVATE);
        const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res;
        (res as unknown as { writeHead: (...a: unknown[]) => typeof res }).writeHead = (
          status: unknown,
          ...rest: unknown[]
        ) => {
          for (const h of rest) {
            if (Array.isArray(h)) {
              for (let i = h.length - 2; i >= 0; i -= 2)
                if (String(h[i]).toLowerCase() === 'cache-control') h.splice(i, 2);
            } else if (h && typeof h === 'object') {
              for (const k of Object.keys(h))
                if (k.toLowerCase() === 'cache-control') delete (h as Record<string, unknown>)[k];
            }
          }
          res.setHeader('cache-control', PRIVATE);
          return writeHead(status, ...rest);
        };
        try {
          if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
            res.writeHead(404, { 'content-type': 'application/problem+json' }).end(
              JSON.stringify({
                type: 'about:blank',
                title: 'Not Found',
                status: 404,
                detail: 'the MCP endpoint is /mcp',
              }),
            );
            return;
          }
          const body = req.method === 'POST' ? await readBody(req) : undefined;
          // A 2026-07-28 request (envelope claim or modern MCP-Protocol-Version): stateless, v2 server.
          if (await serveModernNode(modernHandler('auto'), req, res, body)) return;
          const sid = req.headers['mcp-session-id'];
          const known = typeof sid === 'string' ? live.get(sid) : undefined;
          if (known) return void (await known.transport.handleRequest(req, res, body));
          if (req.method === 'POST' && sid === undefined && body && isInitializeRequest(body)) {
            const session = await newSession();
            const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
              sessionIdGenerator: () => randomUUID(),
              onsessioninitialized: (id) => void live.set(id, { transport, session }),
              // Resumable streams: a client cut off mid-call reconnects with Last-Event-ID.
              eventStore: new SessionEventStore(),
              retryInterval: SSE_RETRY_MS,
            });
            transport.onclose = () => {
              if (transport.sessionId) live.delete(transport.sessionId);
              void session.close();
            };
            await session.server.connect(transport);
            return void (await transport.handleRequest(req, res, body));
          }
          res.writeHead(sid === undefined ? 400 : 404, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: {
                code: -32000,
                message: sid === undefined ? 'Bad Request: no session; send initialize first' : 'Session not found',
              },
              id: null,
            }),
          );
        } catch (e) {
          if (!res.headersSent)
            res.writeHead(e instanceof SyntaxError ? 400 : 500, { 'content-type': 'application/json' }).end(
              JSON.stringify({
                jsonrpc: '2.0',
                error: {
                  code: e instanceof SyntaxError ? -32700 : -32603,
                  message: e instanceof SyntaxError ? 'Parse error' : 'Internal error',
                },
                id: null,
              }),
            );
        }
      });
      await new Promise<void>((r) => http.listen(port, host, r));
      const addr = http.address() as AddressInfo;
      return {
        url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}/mcp`,
        async close() {
          for (const { transport, session } of live.values()) {
            await transport.close().catch(() => undefined);
            await session.close();
          }
          await new Promise<void>((r) => http.close(() => r()));
        },
      };
    },
    async handleStateless(req, parsedBody) {
      if (await isModernRequest(req, parsedBody)) {
        const res = await modernHandler('json').fetch(req, parsedBody);
        const body = res.status === 202 || res.status === 204 ? null : await res.arrayBuffer();
        const headers = new Headers(res.headers);
        headers.set('cache-control', 'private, no-cache, no-store, no-transform');
        return new Response(body, { status: res.status, headers });
      }
      const session = await newSession({ tasks: false });
      // No session id (stateless) and plain JSON answers: nothing outlives this request.
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      try {
        await session.server.connect(transport);
        const res = await transport.handleRequest(req, parsedBody === undefined ? {} : { parsedBody });
        // Read the whole answer before the server and the upstream client close.
        const body = res.status === 202 || res.status === 204 ? null : await res.arrayBuffer();
        const headers = new Headers(res.headers);
        headers.set('cache-control', 'private, no-cache, no-store, no-transform');
        return new Response(body, { status: res.status, headers });
      } finally {
        await transport.close().catch(() => undefined);
        await session.close();
      }
    },
    async close() {
      for (const h of Object.values(modern)) await h.close().catch(() => undefined);
      for (const s of [...sessions]) await s.close();
      await arx.flush?.().catch(() => undefined);
    },
  };
}
