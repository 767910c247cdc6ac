import { describe, expect, it } from 'vitest';
import { decodeAuthContext, encodeAuthContext, type AuthContext } from '../../../lambdas/shared/http.js';
import { assertActionInScope, scopeAllows } from '../../../lambdas/identity/scope.js';
import { verifyAgentToken } from '../../../lambdas/platform/core/agent-auth.js';
import { AGENT_A, world } from './helpers.js';

const agent = (scope?: string[]): AuthContext => ({
  tenantId: 'acme',
  subject: `spiffe://acme.arx/custom/${AGENT_A}`,
  roles: ['agent'],
  principalType: 'agent',
  agentId: AGENT_A,
  ...(scope ? { scope } : {}),
});

describe('SVID scope on the ARX API (F19)', () => {
  it('F19: the authorizer carries a narrowed SVID scope through the auth context (encode → decode)', async () => {
    const w = world();
    const narrowed = await w.mint({ scope: ['okta:users:read'] });
    const ctx = await verifyAgentToken(narrowed.token, w.verifier);
    expect(ctx.scope).toEqual(['okta:users:read']);
    expect(decodeAuthContext(encodeAuthContext(ctx))!.scope).toEqual(['okta:users:read']);
    // A token that is not narrowed carries no scope (not an empty one).
    const full = await verifyAgentToken((await w.mint()).token, w.verifier);
    expect(full.scope).toBeUndefined();
    expect(decodeAuthContext(encodeAuthContext(full))!.scope).toBeUndefined();
  });

  it('F19: refuses (403) a connector:operation outside the token scope, e.g. okta:users:deactivate with okta:users:read', () => {
    expect(() => assertActionInScope(agent(['okta:users:read']), 'okta', 'users:deactivate')).toThrow(
      expect.objectContaining({ status: 403 }),
    );
    expect(() => assertActionInScope(agent(['okta:users:read']), 'okta', 'users:read')).not.toThrow();
    // A scope wider than the action by prefix wildcard admits it; a lookalike prefix does not.
    expect(scopeAllows(['okta:users:*'], 'okta:users:deactivate')).toBe(true);
    expect(scopeAllows(['okta:users:read'], 'okta:users:readAll')).toBe(false);
    expect(scopeAllows(['*'], 'aws:iam:DeleteUser')).toBe(true);
    // An explicitly empty scope admits nothing; no scope is not narrowed (policy decides).
    expect(scopeAllows([], 'okta:users:read')).toBe(false);
    expect(() => assertActionInScope(agent(), 'okta', 'users:deactivate')).not.toThrow();
    expect(() => assertActionInScope(agent([]), 'okta', 'users:read')).toThrow(
      expect.objectContaining({ status: 403 }),
    );
  });
});
