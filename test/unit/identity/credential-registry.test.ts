import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import type { AuditRecordInput } from '../../../lambdas/shared/ports.js';
import {
  allowTokenEndpoint,
  registerRole,
  removeRole,
  type RegistryAdminPort,
} from '../../../lambdas/identity/core/credential-registry.js';
import type { AllowedTokenEndpoint, RegisteredRole } from '../../../lambdas/identity/core/broker.js';

const ROLE = 'arn:aws:iam::123456789012:role/acme-connector';

function setup(auditFails = false) {
  const roles = new Map<string, RegisteredRole>();
  const endpoints = new Map<string, AllowedTokenEndpoint>();
  const audited: AuditRecordInput[] = [];
  const registry: RegistryAdminPort = {
    roleByName: async (t, n) => roles.get(`${t}/${n}`) ?? null,
    putRole: async (r) => {
      const previous = roles.get(`${r.tenant_id}/${r.name}`) ?? null;
      roles.set(`${r.tenant_id}/${r.name}`, r);
      return { previous };
    },
    deleteRole: async (t, n) => {
      const p = roles.get(`${t}/${n}`) ?? null;
      roles.delete(`${t}/${n}`);
      return p;
    },
    getTokenEndpoint: async (t, n) => endpoints.get(`${t}/${n}`) ?? null,
    putTokenEndpoint: async (e) => void endpoints.set(`${e.tenant_id}/${e.name}`, e),
    deleteTokenEndpoint: async (t, n) => {
      const p = endpoints.get(`${t}/${n}`) ?? null;
      endpoints.delete(`${t}/${n}`);
      return p;
    },
  };
  const deps = {
    registry,
    audit: {
      record: async (e: AuditRecordInput) => {
        if (auditFails) throw new Error('audit table unavailable');
        audited.push(e);
        return { event_id: `ev${audited.length}` };
      },
    },
    clock: new ManualClock(Date.parse('2026-03-01T12:00:00Z')),
    allowLoopback: false,
  };
  const caller = { tenantId: 'acme', subject: 'alice', correlationId: 'c', traceId: 't' };
  return { deps, caller, roles, endpoints, audited };
}

describe('credential registry admin (F1, F12b)', () => {
  it('F1: records every registration and removal in the audit chain with the actor', async () => {
    const s = setup();
    await registerRole(s.deps, s.caller, 'default', { role_arn: ROLE });
    await removeRole(s.deps, s.caller, 'default');
    expect(s.audited.map((e) => [e.event_type, e.target, e.payload.actor, e.payload.role_arn])).toEqual([
      ['identity.credential_role.registered', 'default', 'alice', ROLE],
      ['identity.credential_role.deleted', 'default', 'alice', ROLE],
    ]);
  });

  it('F1: an unaudited change does not stay — when the audit write fails the registry is restored and the call fails', async () => {
    const s = setup(true);
    await expect(registerRole(s.deps, s.caller, 'default', { role_arn: ROLE })).rejects.toThrow(
      'audit table unavailable',
    );
    expect(s.roles.size).toBe(0);
    const ok = setup();
    await registerRole(ok.deps, ok.caller, 'default', { role_arn: ROLE });
    const failing = { ...ok.deps, audit: { record: async () => Promise.reject(new Error('audit down')) } };
    await expect(
      registerRole(failing, ok.caller, 'default', { role_arn: 'arn:aws:iam::123456789012:role/other' }),
    ).rejects.toThrow('audit down');
    expect(ok.roles.get('acme/default')!.role_arn).toBe(ROLE);
    await expect(removeRole(failing, ok.caller, 'default')).rejects.toThrow('audit down');
    expect(ok.roles.get('acme/default')!.role_arn).toBe(ROLE);
  });

  it('F1: refuses malformed names (400), storing nothing', async () => {
    const s = setup();
    await expect(registerRole(s.deps, s.caller, 'Default', { role_arn: ROLE })).rejects.toMatchObject({ status: 400 });
    await expect(registerRole(s.deps, s.caller, '-x', { role_arn: ROLE })).rejects.toMatchObject({ status: 400 });
    expect(s.roles.size).toBe(0);
    expect(s.audited).toHaveLength(0);
  });

  it('F12b: only https token/revocation endpoints may be allowlisted in a deployed stack', async () => {
    const s = setup();
    for (const body of [
      { token_endpoint: 'http://127.0.0.1:9/token' },
      { token_endpoint: 'http://as.example/token' },
      { token_endpoint: 'https://as.example/token', revocation_endpoint: 'http://as.example/revoke' },
      { token_endpoint: 'https://as.example/t#x' },
    ]) {
      await expect(allowTokenEndpoint(s.deps, s.caller, 'as', body)).rejects.toMatchObject({ status: 400 });
    }
    expect(s.endpoints.size).toBe(0);
    await allowTokenEndpoint(s.deps, s.caller, 'as', {
      token_endpoint: 'https://as.example/token',
      revocation_endpoint: 'https://as.example/revoke',
    });
    expect(s.audited.map((e) => e.event_type)).toEqual(['identity.token_endpoint.allowed']);
    // Locally, loopback is allowed.
    const local = setup();
    await allowTokenEndpoint({ ...local.deps, allowLoopback: true }, local.caller, 'dev', {
      token_endpoint: 'http://127.0.0.1:9/token',
    });
    expect(local.endpoints.size).toBe(1);
  });
});
