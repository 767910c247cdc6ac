import { describe, expect, it } from 'vitest';
import { startDev } from './support/dev-process.js';

/** Issue 10 §5: `.arx/dev.json` carries a second tenant, so isolation can be tried locally. */
describe('npm run dev: two tenants in development', () => {
  it("dev.json keeps its fields and adds otherTenant; the other tenant's admin cannot see the first tenant's agents", async () => {
    const dev = await startDev();
    try {
      const d = dev.dev;
      expect(Object.keys(d).sort()).toEqual(['apiUrl', 'awsEndpoint', 'otherTenant', 'tenantId', 'tokens']);
      expect(Object.keys(d.tokens).sort()).toEqual(['admin', 'approver', 'auditor']);
      const other = d.otherTenant!;
      expect(other.tenantId).toMatch(/^[a-z0-9-]+$/);
      expect(other.tenantId).not.toBe(d.tenantId);
      expect(Object.keys(other.tokens).sort()).toEqual(['admin', 'approver', 'auditor']);

      const call = async (method: string, path: string, token: string, body?: unknown) => {
        const r = await fetch(`${d.apiUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: r.status, json: (await r.json().catch(() => undefined)) as any };
      };
      const reg = await call('POST', '/v1/identity/agents', d.tokens.admin, {
        platform: 'langchain',
        platform_native_id: 'iso-1',
        owner: { oidc_sub: 'alice' },
      });
      expect(reg.status).toBe(201);
      const id = reg.json.agent_id as string;
      expect(reg.json.spiffe_id).toBe(`spiffe://${d.tenantId}.arx/langchain/${id}`);

      // The other tenant works on its own (provisioned like the first: it registers and issues)…
      const regOther = await call('POST', '/v1/identity/agents', other.tokens.admin, {
        platform: 'langchain',
        platform_native_id: 'iso-1',
        owner: { oidc_sub: 'bob' },
      });
      expect(regOther.status).toBe(201);
      expect(regOther.json.spiffe_id).toBe(`spiffe://${other.tenantId}.arx/langchain/${regOther.json.agent_id}`);

      // …and sees nothing of the first tenant's.
      const list = await call('GET', '/v1/discovery/agents?limit=100', other.tokens.admin);
      expect(list.status).toBe(200);
      const ids = (list.json.items as { agent_id: string }[]).map((a) => a.agent_id);
      expect(ids).not.toContain(id);
      expect(ids).toContain(regOther.json.agent_id);
      expect((await call('GET', `/v1/identity/agents/${id}`, other.tokens.admin)).status).toBe(404);
      expect((await call('GET', `/v1/identity/agents/${id}`, other.tokens.auditor)).status).toBe(404);
      // The first tenant still sees its own.
      expect((await call('GET', `/v1/identity/agents/${id}`, d.tokens.auditor)).status).toBe(200);

      dev.child.kill('SIGINT');
      expect(await dev.exited).toBe(0);
    } finally {
      dev.kill();
    }
  }, 240_000);
});
