/**
 * The issue's bad-input list, each presented both ways an SVID is used: as the subject token of
 * the RFC 8693 exchange (→ 400 with the RFC 6749 error, nothing signed) and as a bearer token on
 * an agent route (→ 401 from the authorizer's agent path).
 */
import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { sha256Hex } from '../../../lambdas/shared/ids.js';
import { UnauthorizedError } from '../../../lambdas/shared/errors.js';
import type { AgentRecord } from '../../../lambdas/shared/ports.js';
import {
  exchangeToken,
  OAuthError,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_BOOTSTRAP,
  TOKEN_TYPE_JWT,
} from '../../../lambdas/identity/core/token-exchange.js';
import { verifyAgentToken } from '../../../lambdas/platform/core/agent-auth.js';
import { AGENT_A, ISSUER_BASE, activeAgent, es256, forge, hs256, world } from './helpers.js';

type W = ReturnType<typeof world>;
interface Case {
  name: string;
  make: (w: W) => Promise<string>;
  /** Expected OAuth error when used as subject token (default invalid_grant). */
  error?: string;
  form?: Record<string, string>;
  /** The token itself is valid on ARX routes (only the exchange request is bad). */
  validBearer?: boolean;
}

async function base(w: W) {
  const { token, claims } = await w.mint({ scope: ['a'] });
  const k = await w.keys.activeKey('acme');
  return {
    token,
    claims: claims as unknown as Record<string, unknown>,
    kid: k.kid,
    priv: await w.privateKeyOf('acme'),
    pub: k.public_jwk,
  };
}

const CASES: Case[] = [
  {
    name: 'alg none',
    make: async (w) => {
      const b = await base(w);
      return forge({ alg: 'none', typ: 'JWT', kid: b.kid }, b.claims, () => Buffer.from('x'));
    },
  },
  {
    name: 'HS256 signed with the public key',
    make: async (w) => {
      const b = await base(w);
      const pem = createPublicKey({ key: { ...b.pub } as never, format: 'jwk' }).export({
        format: 'pem',
        type: 'spki',
      });
      return forge({ alg: 'HS256', typ: 'JWT', kid: b.kid }, b.claims, hs256(pem));
    },
  },
  {
    name: 'RS256 header on the EC key',
    make: async (w) => {
      const b = await base(w);
      return forge({ alg: 'RS256', typ: 'JWT', kid: b.kid }, b.claims, es256(b.priv));
    },
  },
  // At the exchange a target SVID may only be exchanged for its own target; on ARX routes it is not `arx`.
  {
    name: 'wrong aud',
    make: async (w) => (await w.mint({ audience: 'https://elsewhere.example' })).token,
    error: 'invalid_target',
    form: { audience: 'arx' },
  },
  {
    name: 'missing aud',
    make: async (w) => {
      const b = await base(w);
      const { aud: _a, ...c } = b.claims;
      return forge({ alg: 'ES256', typ: 'JWT', kid: b.kid }, c, es256(b.priv));
    },
  },
  {
    name: 'expired',
    make: async (w) => {
      const b = await base(w);
      return forge(
        { alg: 'ES256', typ: 'JWT', kid: b.kid },
        {
          ...b.claims,
          iat: Number(b.claims.iat) - 900,
          nbf: Number(b.claims.iat) - 900,
          exp: Number(b.claims.iat) - 61,
        },
        es256(b.priv),
      );
    },
  },
  {
    name: 'nbf in the future',
    make: async (w) => {
      const b = await base(w);
      return forge(
        { alg: 'ES256', typ: 'JWT', kid: b.kid },
        { ...b.claims, nbf: Number(b.claims.iat) + 300 },
        es256(b.priv),
      );
    },
  },
  {
    name: 'iat in the future',
    make: async (w) => {
      const b = await base(w);
      return forge(
        { alg: 'ES256', typ: 'JWT', kid: b.kid },
        { ...b.claims, iat: Number(b.claims.iat) + 300 },
        es256(b.priv),
      );
    },
  },
  {
    name: 'unknown kid',
    make: async (w) => {
      const b = await base(w);
      return forge(
        { alg: 'ES256', typ: 'JWT', kid: 'nope' },
        b.claims,
        es256(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      );
    },
  },
  {
    name: "sub of tenant B signed by tenant A's key",
    make: async (w) => {
      await w.keys.activeKey('globex');
      const b = await base(w);
      return forge(
        { alg: 'ES256', typ: 'JWT', kid: b.kid },
        { ...b.claims, sub: `spiffe://globex.arx/langchain/${AGENT_A}`, iss: `${ISSUER_BASE}/tenants/globex` },
        es256(b.priv),
      );
    },
  },
  { name: '2 segments', make: async (w) => (await base(w)).token.split('.').slice(0, 2).join('.') },
  {
    name: '4 segments',
    make: async (w) => {
      const t = (await base(w)).token;
      return `${t}.${t.split('.')[2]}`;
    },
  },
  {
    name: 'bad base64url',
    make: async (w) => {
      const [h, p, s] = (await base(w)).token.split('.');
      return `${h}.${p}+/.${s}`;
    },
  },
  {
    name: 'unknown crit',
    make: async (w) => {
      const b = await base(w);
      return forge({ alg: 'ES256', typ: 'JWT', kid: b.kid, crit: ['x-arx'], 'x-arx': true }, b.claims, es256(b.priv));
    },
  },
  {
    name: 'token over 8 KB',
    make: async (w) => {
      const b = await base(w);
      return forge({ alg: 'ES256', typ: 'JWT', kid: b.kid }, { ...b.claims, pad: 'p'.repeat(9000) }, es256(b.priv));
    },
  },
  {
    name: 'more scope than its parent',
    make: async (w) => (await base(w)).token,
    error: 'invalid_scope',
    form: { scope: 'a b' },
    validBearer: true,
  },
];

function deps(w: W) {
  const agent: AgentRecord = activeAgent({ change_reason: 'r' });
  const used = new Set<string>();
  return {
    bootstrap: {
      find: async (h: string) =>
        h === sha256Hex('boot')
          ? {
              tenant_id: 'acme',
              agent_id: AGENT_A,
              generation: 1,
              used: used.has(h),
              expires_at: '2999-01-01T00:00:00Z',
            }
          : null,
      consume: async (h: string) => {
        if (used.has(h)) return false;
        used.add(h);
        return true;
      },
    },
    agents: { get: async () => agent },
    verifier: w.verifier,
    issuer: w.issuer,
    clock: w.clock,
  };
}

describe('bad input at the token endpoint and on agent routes', () => {
  for (const c of CASES) {
    it(`refuses ${c.name}: ${c.error ?? 'invalid_grant'} (400) on exchange${c.validBearer ? '' : ', 401 on an agent route'}, nothing issued`, async () => {
      const w = world();
      const token = await c.make(w);
      const signsBefore = w.kms.signCalls;
      const e = await exchangeToken(deps(w), {
        grant_type: GRANT_TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: TOKEN_TYPE_JWT,
        ...c.form,
      }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(OAuthError);
      expect((e as OAuthError).error).toBe(c.error ?? 'invalid_grant');
      expect((e as OAuthError).status).toBe(400);
      expect(w.kms.signCalls).toBe(signsBefore);
      if (c.validBearer) {
        expect((await verifyAgentToken(token, w.verifier)).principalType).toBe('agent');
      } else {
        await expect(verifyAgentToken(token, w.verifier)).rejects.toBeInstanceOf(UnauthorizedError);
      }
    });
  }

  it('refuses a reused bootstrap token: invalid_grant (400), nothing issued', async () => {
    const w = world();
    const d = deps(w);
    const form = { grant_type: GRANT_TOKEN_EXCHANGE, subject_token: 'boot', subject_token_type: TOKEN_TYPE_BOOTSTRAP };
    await exchangeToken(d, form);
    const signs = w.kms.signCalls;
    const e = await exchangeToken(d, form).then(
      () => null,
      (x: unknown) => x,
    );
    expect([(e as OAuthError).error, (e as OAuthError).status]).toEqual(['invalid_grant', 400]);
    expect(w.kms.signCalls).toBe(signs);
  });
});
