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
export function parseArgs(
  args: readonly string[],
  isSwitch: (name: string, next: string) => boolean = () => false,
): { pos: string[]; flags: Flags } {
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
 * The API base URL and bearer token, always from the same trust source (F27):
 * - a token from the environment (ARX_TOKEN) goes only to a URL from `--api` or ARX_API_URL —
 *   never to the URL in `./.arx/dev.json`, which any checkout you run the CLI in can plant;
 * - otherwise the dev file's token of `role`, to `--api`, ARX_API_URL or the dev file's URL.
 * Throws UsageError naming what is missing.
 */
export function endpoint(
  flags: Flags,
  io: CliIo,
  role: 'admin' | 'approver',
): { api: string; token: string; dev: DevFile } {
  const devFile = join(io.cwd, '.arx', 'dev.json');
  const dev = existsSync(devFile) ? (JSON.parse(readFileSync(devFile, 'utf8')) as DevFile) : {};
  const explicit = typeof flags.api === 'string' ? flags.api : io.env.ARX_API_URL;
  const envToken = io.env.ARX_TOKEN;
  if (envToken) {
    if (!explicit) {
      throw new UsageError(
        'ARX_TOKEN is set: pass --api or set ARX_API_URL (a token from the environment is never sent to the URL in ./.arx/dev.json)',
      );
    }
    return { api: explicit.replace(/\/$/, ''), token: envToken, dev };
  }
  const api = (explicit ?? dev.apiUrl ?? '').replace(/\/$/, '');
  const token = dev.tokens?.[role] ?? '';
  if (!api) throw new UsageError('no API: pass --api, set ARX_API_URL or run `npm run dev`');
  if (!token) throw new UsageError(`no token: set ARX_TOKEN (an ${role} token)`);
  return { api, token, dev };
}
