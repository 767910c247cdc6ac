import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../local/moto.js';

/** Exactly what `npm run dev` runs (package.json scripts.dev), as argv. */
function devCommand(): string[] {
  const script = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.dev!;
  return script.split(/\s+/);
}

export interface DevJson {
  apiUrl: string;
  tenantId: string;
  awsEndpoint: string;
  tokens: Record<'admin' | 'approver' | 'auditor', string>;
  otherTenant?: { tenantId: string; tokens: Record<'admin' | 'approver' | 'auditor', string> };
}

export interface DevProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dev: DevJson;
  readonly exited: Promise<number | null>;
  output(): string;
  /** Every live process of the dev command's process group (tsx, node, moto_server). */
  group(): { pid: number; args: string }[];
  /** The moto_server process the dev command started. */
  motoPid(): number;
  kill(): void;
}

/** The environment of a fresh shell: no emulator endpoint inherited from the test run. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.AWS_ENDPOINT_URL;
  return env;
}

function processGroup(pgid: number): { pid: number; args: string }[] {
  const r = spawnSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === pgid && !m[3]!.startsWith('Z'))
    .map((m) => ({ pid: Number(m[1]), args: m[4]! }));
}

/**
 * Starts `npm run dev` (its script, without npm in between) as a terminal would — in a process group of its own —
 * on a free port, and waits for .arx/dev.json.
 */
export async function startDev(extra: Record<string, string> = {}): Promise<DevProcess> {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'arx-dev-'));
  const [cmd, ...args] = devCommand();
  const child = spawn(cmd!, args, {
    env: cleanEnv({ ARX_PORT: String(port), ARX_STATE_DIR: state, ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pgid = child.pid!;
  const kill = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const file = join(state, 'dev.json');
  const deadline = Date.now() + 150_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      kill();
      throw new Error(`dev did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const dev = JSON.parse(readFileSync(file, 'utf8')) as DevJson;
  return {
    child,
    port,
    dev,
    exited,
    output: () => out,
    group: () => processGroup(pgid),
    motoPid: () => {
      // moto in process (local/moto_inprocess.py) or, without the moto module, moto_server itself
      const m = processGroup(pgid).find((p) => /moto_inprocess\.py|moto_server/.test(p.args));
      if (!m) throw new Error(`no moto_server in the dev process group:\n${JSON.stringify(processGroup(pgid))}`);
      return m.pid;
    },
    kill,
  };
}

/** True when nothing listens on 127.0.0.1:port any more. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
