/**
 * `npm run dev`: the whole control plane on one machine. Starts moto_server on loopback (unless
 * AWS_ENDPOINT_URL points at another emulator), provisions it from the synthesised template,
 * serves the API on 127.0.0.1:8787 and writes .arx/dev.json with dev tokens. Ctrl-C stops
 * everything it started.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emulatorEnv, startMoto, MotoMissingError, type RunningMoto } from './moto.js';

const port = Number(process.env.ARX_PORT ?? 8787);

async function main(): Promise<void> {
  let moto: RunningMoto | undefined;
  const external = process.env.AWS_ENDPOINT_URL;
  if (!external) {
    moto = await startMoto(Number(process.env.ARX_MOTO_PORT ?? 0) || undefined);
  }
  try {
    await serve(external ?? moto!.endpoint, moto);
  } catch (e) {
    await moto?.stop();
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

  const template = synthTemplate() as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  const runtime = await startLocalRuntime({ template, port, prefix: 'arx-dev', verbose: process.env.ARX_VERBOSE === '1' });

  const tokens = {
    admin: await runtime.idp.token({ sub: 'dev-admin', tenant: tenantId, roles: ['admin'], email: 'admin@example.com' }),
    approver: await runtime.idp.token({ sub: 'dev-approver', tenant: tenantId, roles: ['approver'], email: 'manager@example.com' }),
    auditor: await runtime.idp.token({ sub: 'dev-auditor', tenant: tenantId, roles: ['auditor'], email: 'auditor@example.com' }),
  };
  const stateDir = process.env.ARX_STATE_DIR ?? '.arx';
  mkdirSync(stateDir, { recursive: true });
  const devJson = { apiUrl: runtime.url, tenantId, awsEndpoint: endpoint, tokens };
  writeFileSync(join(stateDir, 'dev.json'), JSON.stringify(devJson, null, 2) + '\n', { mode: 0o600 });

  process.stdout.write(
    [
      `ARX control plane running at ${runtime.url} (tenant "${tenantId}")`,
      `  emulated AWS: ${endpoint}${moto ? ' (moto_server, started by this command)' : ''}`,
      `  dev tokens:   ${join(stateDir, "dev.json")} (admin, approver, auditor; 12 h)`,
      `  try:          curl ${runtime.url}/healthz`,
      `Ctrl-C stops everything this command started.`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping …\n`);
    await runtime.stop().catch(() => undefined);
    await moto?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e: unknown) => {
  if (e instanceof MotoMissingError) {
    process.stderr.write(`arx dev: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`arx dev: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
