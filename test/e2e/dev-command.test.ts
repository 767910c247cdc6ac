import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../../local/moto.js';

const tsx = join('node_modules', '.bin', 'tsx');

/** The environment of a fresh shell: no emulator endpoint inherited from the test run. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.AWS_ENDPOINT_URL;
  return env;
}

describe('npm run dev (local/dev.ts)', () => {
  it('starts moto and the API, writes dev.json with working tokens, and Ctrl-C stops everything it started', async () => {
    const port = await freePort();
    const state = mkdtempSync(join(tmpdir(), 'arx-dev-'));
    const child = spawn(tsx, ['local/dev.ts'], {
      env: cleanEnv({ ARX_PORT: String(port), ARX_STATE_DIR: state }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const file = join(state, 'dev.json');
      const deadline = Date.now() + 150_000; // synth + provisioning on a shared 2-core machine
      while (!existsSync(file)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`dev did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const dev = JSON.parse(readFileSync(file, 'utf8')) as {
        apiUrl: string;
        tenantId: string;
        awsEndpoint: string;
        tokens: Record<string, string>;
      };
      expect(dev.apiUrl).toBe(`http://127.0.0.1:${port}`);
      expect(Object.keys(dev.tokens).sort()).toEqual(['admin', 'approver', 'auditor']);
      expect((await fetch(`${dev.apiUrl}/healthz`)).status).toBe(200);
      const list = await fetch(`${dev.apiUrl}/v1/discovery/agents`, {
        headers: { authorization: `Bearer ${dev.tokens.auditor}` },
      });
      expect(list.status).toBe(200);
      expect((await fetch(`${dev.awsEndpoint}/moto-api/`)).status).toBeLessThan(500);

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await expect(fetch(`${dev.apiUrl}/healthz`)).rejects.toThrow();
      await expect(fetch(`${dev.awsEndpoint}/moto-api/`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 200_000);

  it('names the install command when moto_server is missing', () => {
    const r = spawnSync(tsx, ['local/dev.ts'], {
      env: cleanEnv({ PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ARX_PORT: '0' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('pip install "moto[server]>=5.2"');
  }, 70_000);
});
