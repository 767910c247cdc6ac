/**
 * Connectors of kind `mcp`: an upstream MCP server fronted by `arx mcp-gateway`. The gateway runs
 * the tool itself (on the agent's side, like the SDK); what ARX executes for a held call is the
 * *grant*: once a human approved, the action "runs" by returning a receipt bound to the tool,
 * the canonical argument hash and the tool-definition hash, which the gateway spends exactly once.
 *
 * Any connector whose name ends in `mcp` (`okta-mcp`, `memory-mcp`) is of this kind; its
 * operations are `tools:<tool>`, `prompts:<name>` and `resources:read`. `PUT /v1/connectors/{name}`
 * takes `{"config":{"kind":"mcp", …}}`; `POST /v1/connectors/{name}/tools/{tool}/accept` pins a
 * definition hash in that config, and a grant for any other definition of that tool fails.
 */
import { z } from 'zod';
import { argumentsHash } from '../../../sdk/mcp-gateway/canonical.js';
import { ConnectorError, type Connector, type ConnectorOperation } from '../core/model.js';

const HEX64 = /^[0-9a-f]{64}$/;
export const MCP_CONNECTOR_NAME = /^[a-z][a-z0-9_-]{0,28}mcp$/;
export const MCP_OPERATION = /^(tools:[A-Za-z0-9_]{1,128}|prompts:[A-Za-z0-9_]{1,128}|resources:read)$/;
export const MCP_TOOL_NAME = /^[A-Za-z0-9_.\-/]{1,128}$/;

export const McpConfig = z.strictObject({
  kind: z.literal('mcp'),
  /** Where the upstream runs, for documentation and the hosted gateway (`command` or `url`). */
  command: z.string().min(1).max(2000).optional(),
  url: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Header the connector secret's `token` is sent in to the `url` upstream by the hosted gateway
   * (`PUT /v1/connectors/{name}` with `"secret":{"token":…}`, kept in Secrets Manager, bound to the
   * url's origin). @default authorization (as `Bearer <token>`)
   */
  auth_header: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
  /** Accepted tool-definition hashes, by tool name (written by the accept route). */
  pins: z.record(z.string().regex(MCP_TOOL_NAME), z.string().regex(HEX64)).optional(),
});
export type McpConfig = z.infer<typeof McpConfig>;

/** The upstream's credential: sent by the hosted gateway, never the agent's token. */
export const McpSecret = z.strictObject({ token: z.string().min(1).max(4096) });

export const McpGrantParams = z
  .strictObject({
    tool: z.string().regex(MCP_TOOL_NAME),
    arguments: z.record(z.string(), z.unknown()),
    arguments_hash: z.string().regex(HEX64),
    definition_hash: z.string().regex(HEX64),
    bundle_version: z.string().max(50).nullable(),
  })
  .refine((p) => argumentsHash(p.arguments) === p.arguments_hash, {
    message: 'arguments_hash is not the canonical hash of arguments',
    path: ['arguments_hash'],
  });

export const AcceptToolBody = z.strictObject({
  definition_hash: z.string().regex(HEX64, '64 lowercase hex characters (sha256)'),
});
export type AcceptToolBody = z.infer<typeof AcceptToolBody>;

const grantOp: ConnectorOperation = {
  description: 'Authorise one MCP call (the gateway runs it once)',
  params: McpGrantParams as unknown as z.ZodType<Record<string, unknown>>,
};

/** `tools:<x>`, `prompts:<x>`, `resources:read` — any of them, without listing the upstream's tools. */
const operations: Readonly<Record<string, ConnectorOperation>> = new Proxy(
  {},
  {
    get: (_t, p) => (typeof p === 'string' && MCP_OPERATION.test(p) ? grantOp : undefined),
    has: (_t, p) => typeof p === 'string' && MCP_OPERATION.test(p),
    getOwnPropertyDescriptor: (_t, p) =>
      typeof p === 'string' && MCP_OPERATION.test(p)
        ? { value: grantOp, enumerable: false, configurable: true, writable: false }
        : undefined,
  },
);

export function mcpConnector(name: string): Connector {
  return {
    name,
    description: `MCP upstream "${name}" governed through arx mcp-gateway`,
    configSchema: McpConfig,
    secretSchema: McpSecret,
    operations,
    async execute(ctx, operation, p) {
      const cfg = McpConfig.safeParse(ctx.config ?? {});
      if (!cfg.success)
        throw new ConnectorError(
          `connector "${name}" is not configured as kind mcp (PUT /v1/connectors/${name})`,
          'not_configured',
          false,
        );
      const params = McpGrantParams.parse(p);
      const accepted = cfg.data.pins?.[params.tool];
      if (accepted !== undefined && accepted !== params.definition_hash) {
        throw new ConnectorError(
          `the definition of tool "${params.tool}" is not the accepted one; the approval does not cover it`,
          'definition_not_accepted',
          false,
        );
      }
      return {
        granted: true,
        connector: name,
        operation,
        tool: params.tool,
        arguments_hash: params.arguments_hash,
        definition_hash: params.definition_hash,
        bundle_version: params.bundle_version,
      };
    },
  };
}

function cachedConnector(cache: Map<string, Connector>, name: string): Connector {
  let c = cache.get(name);
  if (!c) {
    c = mcpConnector(name);
    cache.set(name, c);
  }
  return c;
}

/** The shipped connectors plus, for any name ending in `mcp`, a connector of kind mcp. */
export function withMcpConnectors(base: ReadonlyMap<string, Connector>): ReadonlyMap<string, Connector> {
  const cache = new Map<string, Connector>();
  const m = new Map(base);
  const get = m.get.bind(m);
  const has = m.has.bind(m);
  m.get = (name: string) => get(name) ?? (MCP_CONNECTOR_NAME.test(name) ? cachedConnector(cache, name) : undefined);
  m.has = (name: string) => has(name) || MCP_CONNECTOR_NAME.test(name);
  return m;
}
