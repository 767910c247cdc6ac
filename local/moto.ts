import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Raised when moto_server is not installed: names the command that installs it. */
export class MotoMissingError extends Error {
  override readonly name = 'MotoMissingError';
  constructor() {
    super(
      'moto_server was not found on PATH. Install it with: pip install "moto[server]>=5.2" (or set AWS_ENDPOINT_URL to another AWS emulator)',
    );
  }
}

export interface RunningMoto {
  readonly endpoint: string;
  /** The moto_server process id. */
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `killAfterMs` (a hung emulator ignores SIGTERM). @default 3000 */
  stop(killAfterMs?: number): Promise<void>;
  /** SIGKILL at once, synchronously (for the hard deadline and process exit). */
  kill(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) return;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not become ready at ${endpoint}: ${String(lastErr)}`);
}

/**
 * Starts moto_server on 127.0.0.1 (a free port unless given) and waits until it answers.
 * Fails loudly with MotoMissingError when moto is not installed — nothing is silently skipped.
 */
export async function startMoto(port?: number): Promise<RunningMoto> {
  const which = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  if (which.status !== 0 || !which.stdout.trim()) throw new MotoMissingError();
  const p = port ?? (await freePort());
  const args = ['-H', '127.0.0.1', '-p', String(p)];
  const py = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' });
  // Where the OS allows it (Linux prctl PR_SET_PDEATHSIG), moto_server is killed by the kernel
  // when this process dies, however it dies (even SIGKILL): it can never outlive the command
  // that started it. The wrapper sets that, then becomes moto_server (same pid) by exec.
  const child =
    py.status === 0 && py.stdout.trim()
      ? spawn(py.stdout.trim(), [WRAPPER, String(process.pid), ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env },
        })
      : spawn('moto_server', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${p}`;
  try {
    await waitReady(endpoint, child, 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    endpoint,
    pid: child.pid!,
    stop: (killAfterMs = 3000) =>
      new Promise<void>((resolve) => {
        if (exited()) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), killAfterMs).unref();
      }),
    kill: () => {
      if (!exited()) child.kill('SIGKILL');
    },
  };
}

/** The wrapper (local/moto_inprocess.py): parent-death signal, moto in process with DynamoDB fixes. */
const WRAPPER = fileURLToPath(new URL('./moto_inprocess.py', import.meta.url));

/** Environment every process talking to the emulator needs (dummy credentials, one region). */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };
}
