import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type CliIo } from '../../../cli/commands/policy.js';
import { OKTA_YAML } from './helpers.js';

function io(responses: Record<string, { status: number; body: unknown }>, cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: { method: string; url: string; auth: string | null; body: unknown }[] = [];
  const fake: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { ARX_TOKEN: 'tok-123', ARX_API_URL: 'http://api.test' },
    cwd,
    fetch: (async (url: string, init: RequestInit) => {
      const method = init.method ?? 'GET';
      calls.push({
        method,
        url,
        auth: new Headers(init.headers).get('authorization'),
        body: init.body ? JSON.parse(String(init.body)) : undefined,
      });
      const r = responses[`${method} ${url.replace('http://api.test', '')}`] ?? {
        status: 404,
        body: { title: 'Not found' },
      };
      return new Response(JSON.stringify(r.body), { status: r.status });
    }) as typeof fetch,
  };
  return { fake, out, err, calls };
}

describe('arx policy', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'arx-cli-'));
    writeFileSync(join(dir, 'okta.yaml'), OKTA_YAML);
    writeFileSync(join(dir, 'bad.cedar'), 'permit(principal is Nobody, action, resource);');
    writeFileSync(
      join(dir, 'schema.cedarschema'),
      'entity Agent; action "x:y:z" appliesTo { principal: [Agent], resource: [Agent] };',
    );
  });

  it('validate accepts the brief YAML policy locally', async () => {
    const t = io({}, dir);
    expect(await run(['validate', 'okta.yaml'], t.fake)).toBe(0);
    expect(t.out.join('')).toMatch(/^valid: 8 policies/);
    expect(t.calls).toEqual([]);
  });

  it('validate: every operation of the brief policy exists on the okta connector (only the extra users:delete warns)', async () => {
    const t = io({}, dir);
    expect(await run(['validate', 'okta.yaml'], t.fake)).toBe(0);
    expect(t.err.join('')).toBe(
      'warning: policy okta-access-review: connector "okta" offers no operation matching "users:delete"\n',
    );
  });

  it('validate warns about an operation no connector offers and about an unknown connector, and still exits 0', async () => {
    writeFileSync(
      join(dir, 'typo.yaml'),
      `- name: typo\n  connector: okta\n  operations:\n    "users:deactvate": high\n    "groups:read*": low\n- name: nowhere\n  connector: jira\n  operations:\n    "issues:create": medium\n`,
    );
    const t = io({}, dir);
    expect(await run(['validate', 'typo.yaml'], t.fake)).toBe(0);
    const err = t.err.join('');
    expect(err).toContain('warning: policy typo: connector "okta" offers no operation matching "users:deactvate"');
    expect(err).not.toContain('groups:read*');
    expect(err).toContain('warning: policy nowhere: no connector named "jira"');
  });

  it("validate prints Cedar's messages and exits 1 for an invalid Cedar file", async () => {
    const t = io({}, dir);
    expect(await run(['validate', 'bad.cedar', '--schema', 'schema.cedarschema'], t.fake)).toBe(1);
    expect(t.err.join('')).toMatch(/Nobody/);
  });

  it('push --promote uploads with the bearer token and promotes the new bundle', async () => {
    const t = io(
      {
        'POST /v1/policies/bundles': { status: 201, body: { bundle_id: 'pb_1', version: 3, digest: 'sha256:x' } },
        'POST /v1/policies/bundles/pb_1/promote': { status: 200, body: { live_bundle_id: 'pb_1', version: 3 } },
      },
      dir,
    );
    expect(await run(['push', 'okta.yaml', '--promote'], t.fake)).toBe(0);
    expect(t.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST http://api.test/v1/policies/bundles',
      'POST http://api.test/v1/policies/bundles/pb_1/promote',
    ]);
    expect(t.calls[0]!.auth).toBe('Bearer tok-123');
    expect(t.calls[0]!.body).toEqual({ format: 'yaml', document: OKTA_YAML });
  });

  it('push reports the validation problems the API returns', async () => {
    const t = io(
      {
        'POST /v1/policies/bundles': {
          status: 400,
          body: { title: 'Request validation failed', errors: [{ path: 'policies', message: 'boom' }] },
        },
      },
      dir,
    );
    expect(await run(['push', 'okta.yaml'], t.fake)).toBe(1);
    expect(t.err.join('')).toContain('policies: boom');
  });

  it('diff prints one line per changed policy and a summary', async () => {
    const t = io(
      {
        'GET /v1/policies/bundles/pb_2/diff/pb_1': {
          status: 200,
          body: {
            added: [{ id: 'a' }],
            removed: [{ id: 'r' }],
            changed: [{ id: 'c' }],
            unchanged: 4,
            schema_changed: false,
            risk_changed: true,
          },
        },
      },
      dir,
    );
    expect(await run(['diff', 'pb_2', 'pb_1'], t.fake)).toBe(0);
    expect(t.out.join('')).toBe('+ a\n- r\n~ c\n1 added, 1 removed, 1 changed, 4 unchanged, risk table changed\n');
  });

  it('prints usage for an unknown subcommand', async () => {
    const t = io({}, dir);
    expect(await run(['frobnicate'], t.fake)).toBe(2);
    expect(t.err.join('')).toMatch(/usage/);
  });
});
