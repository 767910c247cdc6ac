/**
 * `npm run dev`: the whole control plane on one machine. Starts moto_server on loopback (unless
 * AWS_ENDPOINT_URL points at another emulator), provisions it from the synthesised template,
 * serves the API on 127.0.0.1:8787 and writes .arx/dev.json with dev tokens. Ctrl-C stops
 * everything it started.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emulatorEnv, startMoto, MotoMissingError, type RunningMoto } from './moto.js';

const port = Number(process.env.ARX_PORT ?? 8787);
/** Ctrl-C: requests in flight get this long to finish. */
const GRACE_MS = Number(process.env.ARX_STOP_GRACE_MS ?? 2000);
/** Ctrl-C: whatever is still running after this is ended (moto killed, process exits). Under 5 s. */
const HARD_DEADLINE_MS = Number(process.env.ARX_STOP_DEADLINE_MS ?? 4000);

/**
 * Shutdown is armed before anything starts, so Ctrl-C works in every state: while moto starts,
 * while the stack is provisioned, idle, under load, with the emulator hung or gone. The orderly
 * path (schedules → server → deliveries → moto) is bounded by a hard deadline; a second Ctrl-C
 * or the deadline kills moto and exits at once.
 */
const state: { moto?: RunningMoto; runtime?: { stop(o?: { graceMs?: number }): Promise<void> } } = {};
let stopping = false;

function stop(signal: string): void {
  if (stopping) {
    process.stdout.write(`${signal} again: exiting now\n`);
    state.moto?.kill();
    process.exit(1);
  }
  stopping = true;
  process.stdout.write(`\n${signal}: stopping …\n`);
  const hard = setTimeout(() => {
    process.stderr.write(`arx dev: not stopped within ${HARD_DEADLINE_MS} ms; ending what is left\n`);
    state.moto?.kill();
    process.exit(1);
  }, HARD_DEADLINE_MS);
  hard.unref();
  void (async () => {
    await state.runtime?.stop({ graceMs: GRACE_MS }).catch(() => undefined);
    await state.moto?.stop(500);
    process.exit(0);
  })();
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP'));
// Whatever way this process ends, it does not leave moto_server behind.
process.on('exit', () => state.moto?.kill());

async function main(): Promise<void> {
  const external = process.env.AWS_ENDPOINT_URL;
  if (!external) {
    state.moto = await startMoto(Number(process.env.ARX_MOTO_PORT ?? 0) || undefined);
    if (stopping) return void (await state.moto.stop(500));
  }
  try {
    await serve(external ?? state.moto!.endpoint, state.moto);
  } catch (e) {
    await state.moto?.stop(500);
    throw e;
  }
}

async function serve(endpoint: string, moto: RunningMoto | undefined): Promise<void> {
  for (const [k, v] of Object.entries(emulatorEnv(endpoint))) process.env[k] ??= v;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

  // Imported after the environment is set: SDK clients and config read it.
  const { synthTemplate } = await import('../lib/synth.js');
  const { startLocalRuntime } = await import('./runtime.js');
  const { cdkJsonContext } = await import('../lib/synth.js');
  const tenants = cdkJsonContext()['arx:tenants'] as string[];
  const tenantId = tenants[0]!;
  // A second tenant, provisioned like the first (its own signing key from the template), so
  // tenant isolation can be tried locally (issue 10 §5).
  const otherTenantId =
    process.env.ARX_DEV_OTHER_TENANT ??
    tenants.find((t) => t !== tenantId) ??
    (tenantId === 'globex' ? 'initech' : 'globex');
  if (otherTenantId === tenantId)
    throw new Error(`ARX_DEV_OTHER_TENANT must differ from the first tenant "${tenantId}"`);
  const devTenants = [...new Set([...tenants, otherTenantId])];

  const template = synthTemplate({ context: { 'arx:tenants': devTenants } }) as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const runtime = await startLocalRuntime({
    template,
    port,
    prefix: 'arx-dev',
    consoleTenant: tenantId,
    verbose: process.env.ARX_VERBOSE === '1',
    // A short SVID lifetime on request (the SDKs' renewal tests), instead of the 900 s default.
    ...(process.env.ARX_SVID_TTL_SECONDS ? { env: { ARX_SVID_TTL_SECONDS: process.env.ARX_SVID_TTL_SECONDS } } : {}),
  });
  state.runtime = runtime;
  if (stopping) return;

  const tokensFor = async (tenant: string, domain: string) => ({
    admin: await runtime.idp.token({ sub: `dev-admin@${tenant}`, tenant, roles: ['admin'], email: `admin@${domain}` }),
    approver: await runtime.idp.token({
      sub: `dev-approver@${tenant}`,
      tenant,
      roles: ['approver'],
      email: `manager@${domain}`,
    }),
    auditor: await runtime.idp.token({
      sub: `dev-auditor@${tenant}`,
      tenant,
      roles: ['auditor'],
      email: `auditor@${domain}`,
    }),
  });
  const tokens = {
    admin: await runtime.idp.token({
      sub: 'dev-admin',
      tenant: tenantId,
      roles: ['admin'],
      email: 'admin@example.com',
    }),
    approver: await runtime.idp.token({
      sub: 'dev-approver',
      tenant: tenantId,
      roles: ['approver'],
      email: 'manager@example.com',
    }),
    auditor: await runtime.idp.token({
      sub: 'dev-auditor',
      tenant: tenantId,
      roles: ['auditor'],
      email: 'auditor@example.com',
    }),
  };
  const otherTenant = {
    tenantId: otherTenantId,
    tokens: await tokensFor(otherTenantId, `${otherTenantId}.example.com`),
  };
  const stateDir = process.env.ARX_STATE_DIR ?? '.arx';
  mkdirSync(stateDir, { recursive: true });
  const devJson = { apiUrl: runtime.url, tenantId, awsEndpoint: endpoint, tokens, otherTenant };
  // Written whole, then renamed: a reader never sees a half-written file.
  const tmp = join(stateDir, `.dev.json.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(devJson, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, join(stateDir, 'dev.json'));

  process.stdout.write(
    [
      `ARX control plane running at ${runtime.url} (tenant "${tenantId}")`,
      `  emulated AWS: ${endpoint}${moto ? ' (moto_server, started by this command)' : ''}`,
      `  dev tokens:   ${join(stateDir, 'dev.json')} (admin, approver, auditor; 12 h; otherTenant: "${otherTenantId}" for isolation tests)`,
      `  console:      ${runtime.url}/console/ (sign in as admin, approver or auditor)`,
      `  try:          curl ${runtime.url}/healthz`,
      `Ctrl-C stops everything this command started.`,
      '',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  if (e instanceof MotoMissingError) {
    process.stderr.write(`arx dev: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`arx dev: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
