import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a CLI command touches of the outside world; tests hand in their own. */
export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly fetch: typeof fetch;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export const defaultIo = (): CliIo => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  fetch: globalThis.fetch,
  env: process.env,
  cwd: process.cwd(),
});

/** A mistake in how the command was called (exit 2 with usage). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Flags = Record<string, string | true>;

/**
 * Splits `args` into positionals and `--flags`. A flag takes the next argument as its value
 * unless `isSwitch(name, next)` says it stands alone (or no value follows).
 */
export function parseArgs(args: readonly string[], isSwitch: (name: string, next: string) => boolean = () => false): { pos: string[]; flags: Flags } {
  const pos: string[] = [];
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      pos.push(a);
      continue;
    }
    const name = a.slice(2);
    const next = args[i + 1];
    if (next === undefined || next.startsWith('--') || isSwitch(name, next)) flags[name] = true;
    else {
      flags[name] = next;
      i++;
    }
  }
  return { pos, flags };
}

/** What `npm run dev` writes to .arx/dev.json. */
export interface DevFile {
  apiUrl?: string;
  tenantId?: string;
  tokens?: { admin?: string; approver?: string; auditor?: string };
}

/**
 * The API base URL and bearer token: `--api`, then ARX_API_URL / ARX_TOKEN, then the dev
 * file's URL and the token of `role`. Throws UsageError naming what is missing.
 */
export function endpoint(flags: Flags, io: CliIo, role: 'admin' | 'approver'): { api: string; token: string; dev: DevFile } {
  const devFile = join(io.cwd, '.arx', 'dev.json');
  const dev = existsSync(devFile) ? (JSON.parse(readFileSync(devFile, 'utf8')) as DevFile) : {};
  const api = (typeof flags.api === 'string' ? flags.api : io.env.ARX_API_URL ?? dev.apiUrl ?? '').replace(/\/$/, '');
  const token = io.env.ARX_TOKEN ?? dev.tokens?.[role] ?? '';
  if (!api) throw new UsageError('no API: pass --api, set ARX_API_URL or run `npm run dev`');
  if (!token) throw new UsageError(`no token: set ARX_TOKEN (an ${role} token)`);
  return { api, token, dev };
}
