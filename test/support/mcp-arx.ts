// biome-ignore-all lint/suspicious/noExplicitAny: HTTP JSON bodies
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, startTestRuntime } from './runtime.js';

/** The `structuredContent.arx` of a tools/call result (the gateway's status, approval, reason …). */
export const arxOf = (r: unknown) =>
  (r as { structuredContent?: { arx?: unknown } }).structuredContent?.arx as Record<string, any> | undefined;

/** The text parts of a tools/call result, joined by newlines. */
export const textOf = (r: unknown) =>
  ((r as { content: { text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('\n');

export interface McpArx {
  rt: LocalRuntime;
  call: ReturnType<typeof api>;
  admin: string;
  approver: string;
  /** Registers an agent (a fresh platform id from `name`): its id and single-use bootstrap token. */
  agent(
    name: string,
    owner?: { oidc_sub: string; email?: string },
  ): Promise<{ agent_id: string; bootstrap_token: string }>;
}

/**
 * The local ARX runtime the MCP gateway e2e tests run against: an admin and an approver, `policy`
 * (YAML) pushed and promoted, and each of `connectors` configured as kind `mcp` (with `config` merged in).
 */
export async function startMcpArx(
  policy: string,
  connectors: readonly string[] = [],
  config: (connector: string) => Record<string, unknown> = () => ({}),
): Promise<McpArx> {
  const rt = await startTestRuntime();
  const call = api(rt.url);
  const admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
  const approver = await rt.idp.token({
    sub: 'mgr',
    tenant: 'acme',
    roles: ['approver'],
    email: 'manager@example.com',
  });
  const pushed = await call('POST', '/v1/policies/bundles', {
    token: admin,
    body: { format: 'yaml', document: policy },
  });
  expect(pushed.status).toBe(201);
  expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
    200,
  );
  for (const name of connectors)
    expect(
      (
        await call('PUT', `/v1/connectors/${name}`, {
          token: admin,
          body: { config: { kind: 'mcp', ...config(name) } },
        })
      ).status,
    ).toBe(200);
  return {
    rt,
    call,
    admin,
    approver,
    async agent(name, owner = { oidc_sub: 'owner-1' }) {
      const reg = await call('POST', '/v1/identity/agents', {
        token: admin,
        body: { platform: 'custom', platform_native_id: `${name}-${randomBytes(3).toString('hex')}`, owner },
      });
      expect(reg.status).toBe(201);
      return { agent_id: reg.json.agent_id as string, bootstrap_token: reg.json.bootstrap_token as string };
    },
  };
}
