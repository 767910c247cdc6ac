import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { sha256Hex } from '../../../lambdas/shared/ids.js';
import type { AgentRecord, ExtraPut } from '../../../lambdas/shared/ports.js';
import {
  exchangeToken,
  GRANT_REFRESH_TOKEN,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_BOOTSTRAP,
  type BootstrapLookup,
  type RefreshReuse,
  type RefreshTokenLookup,
  type RefreshTokenRecord,
  type RefreshTokenStore,
  type TokenExchangeDeps,
  type TokenIssued,
} from '../../../lambdas/identity/core/token-exchange.js';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { AGENT_A, activeAgent, oauthError, world } from './helpers.js';

/** An in-memory RefreshTokenStore with the adapter's conditions (rotate is all or nothing). */
class MemoryRefreshStore implements RefreshTokenStore {
  readonly tokens = new Map<string, RefreshTokenRecord & { used: boolean }>();
  readonly families = new Map<string, { revoked: boolean }>();
  async find(hash: string): Promise<RefreshTokenLookup | null> {
    const t = this.tokens.get(hash);
    if (!t) return null;
    return { ...t, family_revoked: this.families.get(t.family_id)?.revoked !== false };
  }
  start(hash: string, rec: RefreshTokenRecord): readonly ExtraPut[] {
    return [
      { table: 'control', item: { kind: 'family', rec } },
      { table: 'control', item: { kind: 'token', hash, rec } },
    ];
  }
  /** What the bootstrap consume transaction does with `start`'s items. */
  commit(items: readonly ExtraPut[]): void {
    for (const { item } of items) {
      const rec = item.rec as RefreshTokenRecord;
      if (item.kind === 'family') this.families.set(rec.family_id, { revoked: false });
      else this.tokens.set(String(item.hash), { ...rec, used: false });
    }
  }
  async rotate(oldHash: string, nextHash: string, next: RefreshTokenRecord, now: Date): Promise<boolean> {
    const old = this.tokens.get(oldHash);
    if (!old || old.used || Date.parse(old.expires_at) <= now.getTime()) return false;
    if (this.families.get(next.family_id)?.revoked !== false || this.tokens.has(nextHash)) return false;
    this.tokens.set(oldHash, { ...old, used: true });
    this.tokens.set(nextHash, { ...next, used: false });
    return true;
  }
  async revokeFamily(family: string): Promise<void> {
    if (this.families.has(family)) this.families.set(family, { revoked: true });
  }
}

function setup(opts: { refreshTtlS?: number } = {}) {
  const w = world();
  const boots = new Map<string, BootstrapLookup>();
  const store = new MemoryRefreshStore();
  const revoked = new Set<string>();
  const issued: TokenIssued[] = [];
  const reuses: RefreshReuse[] = [];
  const agent: { rec: AgentRecord } = { rec: activeAgent() };
  boots.set(sha256Hex('boot'), {
    tenant_id: 'acme',
    agent_id: AGENT_A,
    generation: 1,
    used: false,
    expires_at: new Date(w.clock.now().getTime() + 3600_000).toISOString(),
  });
  const deps: TokenExchangeDeps = {
    bootstrap: {
      find: async (hash) => boots.get(hash) ?? null,
      consume: async (hash, _now, also = []) => {
        const b = boots.get(hash);
        if (!b || b.used) return false;
        boots.set(hash, { ...b, used: true });
        store.commit(also);
        return true;
      },
    },
    refresh: store,
    refreshTtlS: opts.refreshTtlS ?? 7 * 24 * 3600,
    revocations: { get: async (t, a) => (revoked.has(`${t}/${a}`) ? { reason: 'revoked' } : null) },
    audit: { issued: (e) => issued.push(e), reuse: (e) => reuses.push(e) },
    agents: { get: async () => agent.rec },
    verifier: w.verifier,
    issuer: w.issuer,
    clock: w.clock,
    ttlS: 300,
  };
  const bootstrap = () =>
    exchangeToken(deps, {
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: 'boot',
      subject_token_type: TOKEN_TYPE_BOOTSTRAP,
    });
  const refresh = (token: string, extra: Record<string, string> = {}) =>
    exchangeToken(deps, { grant_type: GRANT_REFRESH_TOKEN, refresh_token: token, ...extra });
  return { w, deps, store, revoked, issued, reuses, agent, bootstrap, refresh };
}

describe('refresh_token grant', () => {
  it('the bootstrap exchange answers a refresh token stored only as its hash', async () => {
    const s = setup();
    const out = await s.bootstrap();
    expect(out.refresh_token).toMatch(/^arxrt_[\w-]{43}$/);
    expect([...s.store.tokens.keys()]).toEqual([sha256Hex(out.refresh_token!)]);
    expect(JSON.stringify([...s.store.tokens.values()])).not.toContain(out.refresh_token!);
    expect(s.issued.map((e) => e.grant)).toEqual(['bootstrap']);
    expect(JSON.stringify(s.issued)).not.toContain(out.refresh_token!);
  });

  it('rotates: each refresh gives a fresh SVID that verifies and a new token; the old one is spent', async () => {
    const s = setup();
    let rt = (await s.bootstrap()).refresh_token!;
    const jwks = createLocalJWKSet(await s.w.keys.jwks('acme'));
    const jtis = new Set<string>();
    for (let i = 0; i < 5; i++) {
      s.w.clock.advance(290_000); // just before each SVID expires
      const out = await s.refresh(rt);
      const { payload } = await jwtVerify(out.access_token, jwks, {
        algorithms: ['ES256'],
        audience: 'arx',
        currentDate: s.w.clock.now(),
      });
      expect(payload.sub).toBe(s.agent.rec.spiffe_id);
      expect(payload.exp! - payload.iat!).toBe(300);
      expect(out.expires_in).toBe(300);
      expect(out.refresh_token).not.toBe(rt);
      expect(s.store.tokens.get(sha256Hex(rt))!.used).toBe(true);
      jtis.add(String(payload.jti));
      rt = out.refresh_token!;
    }
    expect(jtis.size).toBe(5);
    expect(s.issued.filter((e) => e.grant === 'refresh_token')).toHaveLength(5);
    expect(new Set(s.issued.map((e) => e.refresh_family)).size).toBe(1);
  });

  it('a replayed token revokes the family: the newest token stops working too', async () => {
    const s = setup();
    const first = (await s.bootstrap()).refresh_token!;
    const second = (await s.refresh(first)).refresh_token!;
    const e = await oauthError(s.refresh(first));
    expect([e.error, e.status]).toEqual(['invalid_grant', 400]);
    expect(s.reuses).toHaveLength(1);
    expect((await oauthError(s.refresh(second))).error).toBe('invalid_grant');
    expect(s.store.tokens.get(sha256Hex(second))!.used).toBe(false); // refused, not spent: nothing issued
    expect(s.issued.filter((x) => x.grant === 'refresh_token')).toHaveLength(1);
  });

  it('a lost race (concurrent use of one token) is a reuse: one wins, the family is then revoked', async () => {
    const s = setup();
    const rt = (await s.bootstrap()).refresh_token!;
    const results = await Promise.allSettled([s.refresh(rt), s.refresh(rt)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const won = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ refresh_token?: string }>;
    expect((await oauthError(s.refresh(won.value.refresh_token!))).error).toBe('invalid_grant');
  });

  it('refuses, changing nothing: unknown, malformed, expired, revoked, suspended, rotated, other tenant', async () => {
    const s = setup({ refreshTtlS: 3600 });
    const rt = (await s.bootstrap()).refresh_token!;
    const spent = () => s.store.tokens.get(sha256Hex(rt))!.used;
    for (const bad of ['arxrt_unknown', 'not-a-refresh-token', `arxrt_${'x'.repeat(600)}`]) {
      expect((await oauthError(s.refresh(bad))).error).toBe('invalid_grant');
    }
    s.revoked.add(`acme/${AGENT_A}`);
    expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
    s.revoked.clear();
    for (const status of ['suspended', 'revoked', 'terminated'] as const) {
      s.agent.rec = { ...s.agent.rec, status };
      expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
    }
    s.agent.rec = { ...s.agent.rec, status: 'active', credential_generation: 2 };
    expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
    s.agent.rec = { ...s.agent.rec, credential_generation: 1, tenant_id: 'other' };
    expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
    s.agent.rec = { ...s.agent.rec, tenant_id: 'acme' };
    expect(spent()).toBe(false);
    expect(s.reuses).toHaveLength(0);
    s.w.clock.advance(3600_000);
    expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
    expect(spent()).toBe(false);
    expect(s.issued.map((e) => e.grant)).toEqual(['bootstrap']);
  });

  it('the deadline is absolute: rotation never extends the family', async () => {
    const s = setup({ refreshTtlS: 1000 });
    let rt = (await s.bootstrap()).refresh_token!;
    s.w.clock.advance(600_000);
    rt = (await s.refresh(rt)).refresh_token!;
    s.w.clock.advance(400_000);
    expect((await oauthError(s.refresh(rt))).error).toBe('invalid_grant');
  });

  it('checks the request: bad parameters, client_id, audience and scope', async () => {
    const s = setup();
    const rt = (await s.bootstrap()).refresh_token!;
    expect((await oauthError(exchangeToken(s.deps, { grant_type: 'refresh_token' }))).error).toBe('invalid_request');
    expect((await oauthError(s.refresh(rt, { subject_token: 'x' }))).error).toBe('invalid_request');
    expect((await oauthError(s.refresh(rt, { scope: '' }))).error).toBe('invalid_scope');
    expect((await oauthError(s.refresh(rt, { audience: 'https://elsewhere.example' }))).error).toBe('invalid_target');
    const e = await oauthError(s.refresh(rt, { client_id: 'agt_someone_else' }));
    expect([e.error, e.status]).toEqual(['invalid_client', 401]);
    expect((await oauthError(exchangeToken(s.deps, { grant_type: 'password' }))).error).toBe('unsupported_grant_type');
    expect(s.store.tokens.get(sha256Hex(rt))!.used).toBe(false);
    const ok = await s.refresh(rt, { audience: 'arx', client_id: AGENT_A });
    expect(decodeJwt(ok.access_token).aud).toBe('arx');
  });

  it('keeps the scope granted at bootstrap and only narrows it', async () => {
    const s = setup();
    const boot = await exchangeToken(s.deps, {
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: 'boot',
      subject_token_type: TOKEN_TYPE_BOOTSTRAP,
      scope: 'actions:execute actions:read',
    });
    const out = await s.refresh(boot.refresh_token!);
    expect(out.scope).toBe('actions:execute actions:read');
    expect((await oauthError(s.refresh(out.refresh_token!, { scope: 'identity:admin' }))).error).toBe('invalid_scope');
    const narrow = await s.refresh(out.refresh_token!, { scope: 'actions:read' });
    expect(narrow.scope).toBe('actions:read');
    expect((await s.refresh(narrow.refresh_token!)).scope).toBe('actions:execute actions:read');
  });

  it('does not spend the refresh token when KMS cannot sign (fail closed, retry works)', async () => {
    const s = setup();
    const rt = (await s.bootstrap()).refresh_token!;
    s.w.kms.failSign = new Error('KMS unavailable');
    await expect(s.refresh(rt)).rejects.toBeInstanceOf(DependencyError);
    s.w.kms.failSign = null;
    expect((await s.refresh(rt)).refresh_token).toMatch(/^arxrt_/);
  });

  it('an SVID exchange answers no refresh token; without a store the grant is unsupported', async () => {
    const s = setup();
    const boot = await s.bootstrap();
    const narrowed = await exchangeToken(s.deps, {
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: boot.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    });
    expect(narrowed.refresh_token).toBeUndefined();
    const { refresh: _r, ...without } = s.deps;
    expect(
      (await oauthError(exchangeToken(without, { grant_type: 'refresh_token', refresh_token: 'arxrt_x' }))).error,
    ).toBe('unsupported_grant_type');
  });
});
