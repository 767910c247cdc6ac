#!/usr/bin/env -S npx tsx
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
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write('usage: arx <policy|approvals|verify|terminate|mcp-gateway> …\n');
    return cmd ? 0 : 2;
  }
  if (!/^[a-z-]+$/.test(cmd)) {
    process.stderr.write(`arx: unknown command ${cmd}\n`);
    return 2;
  }
  const file = join(here, 'commands', `${cmd}.ts`);
  if (!existsSync(file)) {
    process.stderr.write(`arx: unknown command ${cmd}\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(file).href)) as { run(args: string[]): Promise<number> };
  return mod.run(rest);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`arx: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
