import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { sha256Hex } from '../../../lambdas/shared/ids.js';
import type { AgentRecord } from '../../../lambdas/shared/ports.js';
import {
  exchangeToken,
  OAuthError,
  parseTokenForm,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_BOOTSTRAP,
  TOKEN_TYPE_JWT,
  type BootstrapLookup,
} from '../../../lambdas/identity/core/token-exchange.js';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { AGENT_A, activeAgent, oauthError, world } from './helpers.js';

function setup(opts: { status?: AgentRecord['status']; generation?: number } = {}) {
  const w = world();
  const boots = new Map<string, BootstrapLookup>();
  const agent: AgentRecord = activeAgent({
    status: opts.status ?? 'active',
    credential_generation: opts.generation ?? 1,
  });
  const addBoot = (token: string, generation = 1) =>
    boots.set(sha256Hex(token), {
      tenant_id: 'acme',
      agent_id: AGENT_A,
      generation,
      used: false,
      expires_at: new Date(w.clock.now().getTime() + 3600_000).toISOString(),
    });
  const deps = {
    bootstrap: {
      find: async (hash: string) => boots.get(hash) ?? null,
      consume: async (hash: string) => {
        const b = boots.get(hash);
        if (!b || b.used) return false;
        boots.set(hash, { ...b, used: true });
        return true;
      },
    },
    agents: { get: async () => agent },
    verifier: w.verifier,
    issuer: w.issuer,
    clock: w.clock,
  };
  const form = (token: string, extra: Record<string, string> = {}) => ({
    grant_type: GRANT_TOKEN_EXCHANGE,
    subject_token: token,
    subject_token_type: TOKEN_TYPE_BOOTSTRAP,
    ...extra,
  });
  return { w, deps, addBoot, form, boots, agent };
}

describe('exchangeToken', () => {
  it('does not burn the bootstrap token when KMS cannot sign (fail closed, retry works)', async () => {
    const s = setup();
    s.addBoot('boot-1');
    await s.w.keys.activeKey('acme');
    s.w.kms.failSign = new Error('KMS unavailable');
    await expect(exchangeToken(s.deps, s.form('boot-1'))).rejects.toBeInstanceOf(DependencyError);
    s.w.kms.failSign = null;
    const out = await exchangeToken(s.deps, s.form('boot-1'));
    const { payload } = await jwtVerify(out.access_token, createLocalJWKSet(await s.w.keys.jwks('acme')), {
      algorithms: ['ES256'],
      audience: 'arx',
      currentDate: s.w.clock.now(),
    });
    expect(payload.sub).toBe(s.agent.spiffe_id);
  });

  it('refuses a bootstrap token superseded by a rotation, an expired one and one of an inactive agent', async () => {
    const s = setup({ generation: 2 });
    s.addBoot('old', 1);
    expect((await oauthError(exchangeToken(s.deps, s.form('old')))).error).toBe('invalid_grant');
    s.addBoot('late', 2);
    s.w.clock.advance(3601_000);
    expect((await oauthError(exchangeToken(s.deps, s.form('late')))).error).toBe('invalid_grant');
    const t = setup({ status: 'suspended' });
    t.addBoot('b');
    expect((await oauthError(exchangeToken(t.deps, t.form('b')))).error).toBe('invalid_grant');
    expect(t.boots.get(sha256Hex('b'))!.used).toBe(false);
  });

  it('refuses a client_id that is not the subject agent with invalid_client (401)', async () => {
    const s = setup();
    s.addBoot('b');
    const e = await oauthError(exchangeToken(s.deps, s.form('b', { client_id: 'agt_someone_else' })));
    expect([e.error, e.status]).toEqual(['invalid_client', 401]);
  });

  it('inherits the parent scope when none is asked and refuses delegation and other token types', async () => {
    const s = setup();
    s.addBoot('b');
    const root = await exchangeToken(s.deps, s.form('b', { scope: 'x y' }));
    const child = await exchangeToken(s.deps, {
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: root.access_token,
      subject_token_type: TOKEN_TYPE_JWT,
    });
    expect(child.scope).toBe('x y');
    const e1 = await oauthError(
      exchangeToken(s.deps, { ...s.form('b'), actor_token: 'a', actor_token_type: TOKEN_TYPE_JWT }),
    );
    expect(e1.error).toBe('invalid_request');
    const e2 = await oauthError(
      exchangeToken(s.deps, { ...s.form('b'), requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
    );
    expect(e2.error).toBe('invalid_request');
    const e3 = await oauthError(
      exchangeToken(s.deps, { ...s.form('b'), audience: 'https://a.example', resource: 'https://b.example' }),
    );
    expect(e3.error).toBe('invalid_target');
    const e4 = await oauthError(exchangeToken(s.deps, { ...s.form('b'), scope: 'bad"scope' }));
    expect(e4.error).toBe('invalid_scope');
  });

  it('refuses an exchange from the SVID of a revoked agent', async () => {
    const s = setup();
    s.addBoot('b');
    const root = await exchangeToken(s.deps, s.form('b'));
    s.w.revoked.add(`acme|${AGENT_A}`);
    const e = await oauthError(
      exchangeToken(s.deps, {
        grant_type: GRANT_TOKEN_EXCHANGE,
        subject_token: root.access_token,
        subject_token_type: TOKEN_TYPE_JWT,
      }),
    );
    expect(e.error).toBe('invalid_grant');
  });
});

describe('parseTokenForm', () => {
  it('refuses a repeated parameter, a non-form body and HTTP Basic client authentication', () => {
    expect(() => parseTokenForm('a=1&a=2', { contentType: 'application/x-www-form-urlencoded' })).toThrow(OAuthError);
    expect(() => parseTokenForm('{}', { contentType: 'application/json' })).toThrow(/x-www-form-urlencoded/);
    expect(() =>
      parseTokenForm('a=1', { contentType: 'application/x-www-form-urlencoded', authorization: 'Basic eDp5' }),
    ).toThrow(/client authentication/);
    expect(
      parseTokenForm('grant_type=x&unknown=1', { contentType: 'application/x-www-form-urlencoded; charset=utf-8' }),
    ).toEqual({ grant_type: 'x' });
  });
});
