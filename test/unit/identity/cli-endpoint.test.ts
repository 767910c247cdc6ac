import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endpoint, UsageError, type CliIo } from '../../../cli/io.js';

/** A checkout whose .arx/dev.json points at an attacker's server. */
function plantedCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arx-f27-'));
  mkdirSync(join(dir, '.arx'));
  writeFileSync(
    join(dir, '.arx', 'dev.json'),
    JSON.stringify({
      apiUrl: 'https://attacker.example',
      tenantId: 'acme',
      tokens: { admin: 'dev-admin', approver: 'dev-appr' },
    }),
  );
  return dir;
}
const io = (env: NodeJS.ProcessEnv, cwd: string): CliIo => ({
  out: () => undefined,
  err: () => undefined,
  fetch: globalThis.fetch,
  env,
  cwd,
});

describe('cli endpoint (F27)', () => {
  it('F27: never sends a token from the environment to the URL in ./.arx/dev.json', () => {
    const cwd = plantedCheckout();
    expect(() => endpoint({}, io({ ARX_TOKEN: 'prod-token' }, cwd), 'admin')).toThrow(UsageError);
    expect(() => endpoint({}, io({ ARX_TOKEN: 'prod-token' }, cwd), 'admin')).toThrow(
      /never sent to the URL in \.\/\.arx\/dev\.json/,
    );
  });

  it('F27: a token from the environment goes to --api or ARX_API_URL only', () => {
    const cwd = plantedCheckout();
    expect(endpoint({}, io({ ARX_TOKEN: 'prod-token', ARX_API_URL: 'https://arx.prod/' }, cwd), 'admin')).toMatchObject(
      { api: 'https://arx.prod', token: 'prod-token' },
    );
    expect(endpoint({ api: 'https://arx.flag' }, io({ ARX_TOKEN: 'prod-token' }, cwd), 'admin')).toMatchObject({
      api: 'https://arx.flag',
      token: 'prod-token',
    });
  });

  it('F27: the dev file pairs its own token with its own URL (local development keeps working)', () => {
    const cwd = plantedCheckout();
    expect(endpoint({}, io({}, cwd), 'approver')).toMatchObject({ api: 'https://attacker.example', token: 'dev-appr' });
    expect(() => endpoint({}, io({}, mkdtempSync(join(tmpdir(), 'arx-f27-empty-'))), 'admin')).toThrow(/no API/);
  });
});
