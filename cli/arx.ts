/**
 * `arx` command line. Subcommands live in cli/commands/<name>.ts and export
 * `run(args: string[]): Promise<number>` (the exit code).
 *
 *   arx policy validate|push|diff|promote …
 *   arx approvals list|approve|deny …
 *   arx verify <dir|s3://bucket/prefix> [--jwks …] [--event …]
 *   arx terminate <agent_id> --reason …
 *   arx mcp-gateway --connector <name> --upstream-cmd "<cmd>" [--listen host:port]
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { isMain, runMain } from './main.js';

const here = dirname(fileURLToPath(import.meta.url));

export type CommandModule = { run(args: string[]): Promise<number> };
/** Subcommand name → loader. The packaged CLI passes a static map (scripts/package.ts). */
export type Commands = Readonly<Record<string, () => Promise<CommandModule>>>;

/** The subcommands found beside this file (running from the checkout). */
export function sourceCommands(dir = join(here, 'commands')): Commands {
  const out: Record<string, () => Promise<CommandModule>> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const m = /^([a-z-]+)\.(ts|js|mjs)$/.exec(f);
    if (m && !f.endsWith('.d.ts'))
      out[m[1]!] = () => import(pathToFileURL(join(dir, f)).href) as Promise<CommandModule>;
  }
  return out;
}

export async function main(argv: string[], commands: Commands = sourceCommands()): Promise<number> {
  const [cmd, ...rest] = argv;
  const usage = `usage: arx <${Object.keys(commands).sort().join('|')}> …\n`;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    (cmd ? process.stdout : process.stderr).write(usage);
    return cmd ? 0 : 2;
  }
  const load = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!load) {
    process.stderr.write(`arx: unknown command ${cmd}\n${usage}`);
    return 2;
  }
  return (await load()).run(rest);
}

/** Defined by scripts/package.ts: the bundle's own entry calls main with a static command map. */
declare const __ARX_BUNDLED__: boolean | undefined;
if (typeof __ARX_BUNDLED__ === 'undefined' && isMain(import.meta.url)) runMain('arx', (args) => main(args));
