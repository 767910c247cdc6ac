import { expect } from 'vitest';
import { OAuthError } from '../../../lambdas/identity/core/token-exchange.js';
import type { AgentRecord } from '../../../lambdas/shared/ports.js';
import { createHmac, sign as nodeSign, type KeyObject } from 'node:crypto';
import { ManualClock } from '../../support/clock.js';
import { MemoryKeyManager, MemoryKeyStore } from '../../support/memory-keys.js';
import { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import { SvidIssuer } from '../../../lambdas/identity/core/svid.js';
import { SvidVerifier, type AgentCredentialState } from '../../../lambdas/identity/core/verify.js';

export const ISSUER_BASE = 'https://arx.example.test';
export const AGENT_A = 'agt_01JAAAAAAAAAAAAAAAAAAAAAAA';
export const AGENT_B = 'agt_01JBBBBBBBBBBBBBBBBBBBBBBB';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Builds a compact JWS by hand (to forge tokens the issuer would never produce). */
export function forge(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signWith: (input: Buffer) => Buffer,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signWith(Buffer.from(input)).toString('base64url')}`;
}
export const es256 = (key: KeyObject) => (input: Buffer) =>
  nodeSign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
export const hs256 = (secret: string | Buffer) => (input: Buffer) =>
  createHmac('sha256', secret).update(input).digest();

export function world() {
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const kms = new MemoryKeyManager();
  const store = new MemoryKeyStore();
  const keys = new TenantKeys(store, kms, clock);
  const issuer = new SvidIssuer(keys, clock, { issuerBase: ISSUER_BASE });
  const revoked = new Set<string>();
  const states = new Map<string, AgentCredentialState>();
  let jwksFetches = 0;
  const verifier = new SvidVerifier({
    issuerBase: ISSUER_BASE,
    clock,
    fetchJwks: async (t) => {
      jwksFetches++;
      try {
        return await keys.jwks(t);
      } catch {
        return null;
      }
    },
    revocation: { status: async (t, a) => (revoked.has(`${t}|${a}`) ? 'revoked' : 'clear') },
    agentState: { get: async (t, a) => states.get(`${t}|${a}`) ?? null },
  });
  keys.onRotate((t) => verifier.invalidate(t));
  const mint = (over: Partial<Parameters<SvidIssuer['mint']>[0]> = {}) =>
    issuer.mint({
      tenantId: 'acme',
      platform: 'langchain',
      agentId: AGENT_A,
      ownerSub: 'owner-1',
      generation: 1,
      audience: 'arx',
      ...over,
    });
  /** The private key behind a tenant's active kid (for forging). */
  const privateKeyOf = async (tenant: string) => {
    const k = await keys.activeKey(tenant);
    return kms.keys.get(k.key_arn)!.priv;
  };
  return {
    clock,
    kms,
    store,
    keys,
    issuer,
    verifier,
    revoked,
    states,
    mint,
    privateKeyOf,
    jwksFetches: () => jwksFetches,
  };
}

/** An active registered agent (AGENT_A of tenant acme), as the token endpoint's tests use it. */
export function activeAgent(over: Partial<AgentRecord> = {}): AgentRecord {
  return {
    tenant_id: 'acme',
    agent_id: AGENT_A,
    spiffe_id: `spiffe://acme.arx/langchain/${AGENT_A}`,
    platform: 'langchain',
    platform_native_id: 'n',
    owner: {
      oidc_sub: 'owner-1',
      attested_at: '2026-01-01T00:00:00Z',
      attestation_method: 'registration',
      status: 'live',
    },
    status: 'active',
    version: 1,
    created_at: '2026-01-01T00:00:00Z',
    valid_from: '2026-01-01T00:00:00Z',
    credential_generation: 1,
    changed_by: 'x',
    change_reason: 'registered',
    ...over,
  };
}

/** The OAuthError a token request was refused with (fails the test when it was not refused). */
export async function oauthError(p: Promise<unknown>): Promise<OAuthError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OAuthError);
  return e as OAuthError;
}
