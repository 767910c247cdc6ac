/**
 * JSON-RPC error messages as the gateway sends them: without the SDK's `MCP error <code>: ` prefix.
 *
 * The SDK's `McpError` puts `MCP error <code>: ` in front of its message, and its Protocol sends
 * `error.message` as the JSON-RPC message; the receiving SDK client prefixes it again. An upstream's
 * error that the gateway rethrows therefore reached the client as
 * `MCP error -32602: MCP error -32602: MCP error -32602: Resource … not found`. The gateway strips the
 * prefixes from every error response it sends (its own, the upstream's, the SDK's), so the client
 * shows one.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

const PREFIX = /^(?:MCP error -?\d+: )+/;

/** The message without any leading `MCP error <code>: ` prefixes. */
export const bareMessage = (message: string) => message.replace(PREFIX, '');

/** Patches `transport.send` so every JSON-RPC error response carries a bare message. */
export function bareErrorMessages<T extends Transport>(transport: T): T {
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    const m = message as { error?: { message?: unknown } };
    if (m.error && typeof m.error.message === 'string' && PREFIX.test(m.error.message))
      return send(
        { ...message, error: { ...m.error, message: bareMessage(m.error.message) } } as typeof message,
        options,
      );
    return send(message, options);
  };
  return transport;
}
