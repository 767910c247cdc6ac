import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import type { RevocationEntry } from '../../../lambdas/shared/ports.js';
import type { AgentRecord, InventoryStore } from '../../../lambdas/shared/ports.js';
import { revokeAgent, rotateAgent } from '../../../lambdas/identity/core/lifecycle.js';
import { isSvidIssuer } from '../../../lambdas/platform/core/agent-auth.js';
import { AGENT_A } from './helpers.js';

function setup(status: AgentRecord['status']) {
  let rec: AgentRecord = {
    tenant_id: 'acme',
    agent_id: AGENT_A,
    spiffe_id: `spiffe://acme.arx/langchain/${AGENT_A}`,
    platform: 'langchain',
    platform_native_id: 'n',
    owner: { oidc_sub: 'o', attested_at: '2026-01-01T00:00:00Z', attestation_method: 'registration', status: 'live' },
    status,
    version: 1,
    created_at: '2026-01-01T00:00:00Z',
    valid_from: '2026-01-01T00:00:00Z',
    credential_generation: 1,
    changed_by: 'x',
    change_reason: 'r',
  };
  const drl: RevocationEntry[] = [];
  const extras: Record<string, unknown>[] = [];
  const cascades: string[] = [];
  const inventory = {
    get: async () => rec,
    update: async (
      cur: AgentRecord,
      patch: Partial<AgentRecord>,
      _meta: unknown,
      opts?: { requireStatusIn?: readonly string[]; extra?: readonly { item: Record<string, unknown> }[] },
    ) => {
      if (opts?.requireStatusIn && !opts.requireStatusIn.includes(cur.status)) throw new Error('status');
      rec = { ...cur, ...patch, version: cur.version + 1 };
      extras.push(...(opts?.extra ?? []).map((e) => e.item));
      return rec;
    },
  } as unknown as InventoryStore;
  const deps = {
    inventory,
    clock: new ManualClock(Date.parse('2026-03-01T00:00:00Z')),
    controlTable: 'control',
    drl: { revoke: async (e: RevocationEntry) => void drl.push(e) },
    agentState: (t: string, a: string, state: object, at: string) => ({
      table: 'control',
      item: { pk: `T#${t}#AGENT#${a}`, sk: 'CRED', ...state, updated_at: at },
    }),
    credentials: { revokeAgentCredentials: async (_t: string, a: string) => void cascades.push(a) },
  };
  return { deps, drl, extras, cascades, current: () => rec };
}
const caller = { tenantId: 'acme', subject: 'admin-1' };
const trace = { correlationId: 'c', traceId: `${'0'.repeat(31)}1` };

describe('revokeAgent', () => {
  it('writes the revocation list before the status, mirrors the state for verifiers and cascades credentials', async () => {
    const s = setup('active');
    const out = await revokeAgent(s.deps, caller, AGENT_A, 'revoked', trace, 'compromised');
    expect(out.status).toBe('revoked');
    expect(s.drl[0]).toMatchObject({ agent_id: AGENT_A, reason_code: 'revoked', spiffe_id: s.current().spiffe_id });
    expect(Date.parse(s.drl[0]!.ttl_until) - Date.parse(s.drl[0]!.revoked_at)).toBeGreaterThanOrEqual(
      30 * 24 * 3600 * 1000,
    );
    expect(s.extras).toContainEqual(expect.objectContaining({ sk: 'CRED', status: 'revoked', generation: 1 }));
    expect(s.cascades).toEqual([AGENT_A]);
  });

  it('never weakens a terminated agent back to revoked', async () => {
    const s = setup('terminated');
    const out = await revokeAgent(s.deps, caller, AGENT_A, 'revoked', trace);
    expect(out.status).toBe('terminated');
    expect(s.drl[0]!.reason_code).toBe('terminated');
  });
});

describe('rotateAgent', () => {
  it('bumps the generation, stores only the hash of a new bootstrap token and mirrors the generation', async () => {
    const s = setup('active');
    const out = await rotateAgent(s.deps, caller, AGENT_A, trace);
    expect(out.credential_generation).toBe(2);
    expect(out.bootstrap_token).toMatch(/^arxb_/);
    const boot = s.extras.find((e) => String(e.pk).startsWith('BOOT#'))!;
    expect(boot).toMatchObject({ generation: 2, used: false, agent_id: AGENT_A });
    expect(JSON.stringify(s.extras)).not.toContain(out.bootstrap_token);
    expect(s.extras).toContainEqual(expect.objectContaining({ sk: 'CRED', generation: 2, status: 'active' }));
  });

  it('refuses to rotate a revoked agent', async () => {
    const s = setup('revoked');
    await expect(rotateAgent(s.deps, caller, AGENT_A, trace)).rejects.toMatchObject({ status: 409 });
  });
});

describe('isSvidIssuer', () => {
  it('recognises only `<issuer base>/tenants/…` issuers', () => {
    expect(isSvidIssuer('https://api.example/tenants/acme', 'https://api.example/')).toBe(true);
    expect(isSvidIssuer('https://api.example.evil/tenants/acme', 'https://api.example')).toBe(false);
    expect(isSvidIssuer('https://idp.example/', 'https://api.example')).toBe(false);
    expect(isSvidIssuer(undefined, 'https://api.example')).toBe(false);
  });
});
