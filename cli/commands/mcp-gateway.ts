/**
 * `arx mcp-gateway --connector <name> (--upstream-cmd "<command line>" | --upstream-url <url>)
 *    [--listen <host:port>] [--allow-host <name> …] [--hold <seconds>] [--pins <file>] [--upstream-env KEY=VALUE …]`
 *
 * With --listen, a request whose Host or Origin names a host other than the loopback names, the
 * listen host or an --allow-host name is refused with 403 (DNS-rebinding protection).
 *
 * Without --listen it serves MCP over stdio (the client launches it as its server; 2025-11-25 and
 * older); with it, Streamable HTTP at http://host:port/mcp (2025-era sessions, and 2026-07-28
 * stateless requests, a fresh server each). The agent is ARX_AGENT_TOKEN (an SVID) or
 * ARX_BOOTSTRAP_TOKEN (exchanged and refreshed) against ARX_URL. Neither is passed upstream: the
 * upstream gets only a minimal environment plus the --upstream-env values.
 * Stdout belongs to the protocol in stdio mode; everything else goes to stderr.
 */
import { parseArgs } from 'node:util';
import { createMcpGateway, FilePinStore, splitCommandLine, type UpstreamSpec } from '../../sdk/mcp-gateway/index.js';

const USAGE =
  'usage: arx mcp-gateway --connector <name> (--upstream-cmd "<command line>" | --upstream-url <url>) [--listen <host:port>] [--allow-host <name> …] [--hold <seconds>] [--pins <file>] [--upstream-env KEY=VALUE …]\n';

export async function run(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values: v } = parseArgs({
      args,
      options: {
        connector: { type: 'string' },
        'upstream-cmd': { type: 'string' },
        'upstream-url': { type: 'string' },
        'upstream-env': { type: 'string', multiple: true },
        listen: { type: 'string' },
        'allow-host': { type: 'string', multiple: true },
        hold: { type: 'string' },
        pins: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`arx mcp-gateway: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    process.stderr.write(USAGE);
    return 0;
  }
  const fail = (m: string) => {
    process.stderr.write(`arx mcp-gateway: ${m}\n${USAGE}`);
    return 2;
  };
  const connector = v.connector as string | undefined;
  if (!connector) return fail('--connector is required');
  if (Boolean(v['upstream-cmd']) === Boolean(v['upstream-url']))
    return fail('give exactly one of --upstream-cmd and --upstream-url');
  const apiUrl = process.env.ARX_URL;
  const agentToken = process.env.ARX_AGENT_TOKEN;
  const bootstrapToken = process.env.ARX_BOOTSTRAP_TOKEN;
  if (!apiUrl) return fail('ARX_URL is not set');
  if (!agentToken && !bootstrapToken) return fail('set ARX_AGENT_TOKEN (an SVID) or ARX_BOOTSTRAP_TOKEN');
  const env: Record<string, string> = {};
  for (const kv of (v['upstream-env'] as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) return fail(`--upstream-env wants KEY=VALUE, got "${kv}"`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  let upstream: UpstreamSpec;
  if (v['upstream-cmd']) {
    const [command, ...rest] = splitCommandLine(v['upstream-cmd'] as string);
    if (!command) return fail('--upstream-cmd is empty');
    upstream = { command, args: rest, env };
  } else {
    try {
      upstream = { url: new URL(v['upstream-url'] as string).href };
    } catch {
      return fail('--upstream-url is not a URL');
    }
  }
  let holdMs: number | undefined;
  if (v.hold !== undefined) {
    holdMs = Number(v.hold) * 1000;
    if (!Number.isFinite(holdMs) || holdMs < 0 || holdMs > 3600_000) return fail('--hold is seconds, 0 to 3600');
  }
  let listen: { host: string; port: number } | undefined;
  if (v.listen) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v.listen as string);
    if (!m || Number(m[2]) > 65535) return fail('--listen wants host:port');
    listen = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }
  let gw: Awaited<ReturnType<typeof createMcpGateway>>;
  try {
    gw = await createMcpGateway({
      connector,
      upstream,
      arx: { apiUrl, ...(agentToken ? { agentToken } : {}), ...(bootstrapToken ? { bootstrapToken } : {}) },
      ...(holdMs !== undefined ? { holdMs } : {}),
      ...(v.pins ? { pins: new FilePinStore(v.pins as string) } : {}),
      ...(v['allow-host'] ? { allowedHosts: v['allow-host'] as string[] } : {}),
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  if (listen) {
    const srv = await gw.listen(listen.host, listen.port);
    process.stderr.write(`arx mcp-gateway: connector ${connector}, Streamable HTTP on ${srv.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () =>
        void srv
          .close()
          .then(() => gw.close())
          .then(resolve); // close flushes buffered spans
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  const session = await gw.serveStdio();
  await new Promise<void>((resolve) => {
    session.server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await gw.close();
  return 0;
}
