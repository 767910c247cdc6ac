import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const run = promisify(execFile);

interface Summary {
  protocol: string;
  totals: { pass: number; fail: number; warn: number };
  unexpected_failures: number;
  scenarios: Record<string, { pass: number; fail: number; failures: string[] }>;
}

/**
 * The protocol's own server suite (`@modelcontextprotocol/conformance`, every scenario including
 * the pending ones) against the gateway's Streamable HTTP listener fronting a real stdio upstream:
 * `npm run conformance:mcp`, as a user runs it.
 */
describe('MCP gateway: @modelcontextprotocol/conformance server suite', () => {
  it('passes every server scenario of protocol 2025-11-25 through the gateway', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'arx-conf-')), 'summary.json');
    await run(process.execPath, ['--import', 'tsx', 'scripts/mcp-conformance.ts'], {
      cwd: root,
      env: { ...process.env, ARX_CONFORMANCE_OUT: out },
      timeout: 400_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const s = JSON.parse(readFileSync(out, 'utf8')) as Summary;
    expect(s.protocol).toBe('2025-11-25');
    expect(Object.keys(s.scenarios)).toEqual(
      expect.arrayContaining([
        'tools-call-with-progress',
        'tools-call-sampling',
        'resources-subscribe',
        'json-schema-2020-12',
      ]),
    );
    expect(Object.keys(s.scenarios).length).toBeGreaterThanOrEqual(32);
    expect(Object.values(s.scenarios).flatMap((x) => x.failures)).toEqual([]);
    expect(s.totals.fail).toBe(0);
    expect(s.totals.pass).toBeGreaterThanOrEqual(44);
  }, 420_000);
});
