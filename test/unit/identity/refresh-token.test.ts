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
  TOKEN_ISSUED,
  TOKEN_REFRESH_REUSE,
} from '../../../lambdas/identity/core/token-exchange.js';
import type { OutboxEntry } from '../../../lambdas/shared/events.js';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { AGENT_A, activeAgent, oauthError, world } from './helpers.js';

type Stored = RefreshTokenRecord & { used: boolean; used_at?: string; replaced_by?: string; grace_used?: boolean };

/** An in-memory RefreshTokenStore with the adapter's conditions (every write is all or nothing). */
class MemoryRefreshStore implements RefreshTokenStore {
  readonly tokens = new Map<string, Stored>();
  readonly families = new Map<string, { revoked: boolean }>();
  /** Events committed with a successful write (what the outbox would hold). */
  readonly committed: OutboxEntry[] = [];
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
  async rotate(
    oldHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    events: readonly OutboxEntry[],
  ): Promise<boolean> {
    const old = this.tokens.get(oldHash);
    if (!old || old.used || Date.parse(old.expires_at) <= now.getTime()) return false;
    if (this.families.get(next.family_id)?.revoked !== false || this.tokens.has(nextHash)) return false;
    this.tokens.set(oldHash, { ...old, used: true, used_at: now.toISOString(), replaced_by: nextHash });
    this.tokens.set(nextHash, { ...next, used: false });
    this.committed.push(...events);
    return true;
  }
  async regrant(
    oldHash: string,
    lostHash: string,
    nextHash: string,
    next: RefreshTokenRecord,
    now: Date,
    spentSince: Date,
    events: readonly OutboxEntry[],
  ): Promise<boolean> {
    const old = this.tokens.get(oldHash);
    const lost = this.tokens.get(lostHash);
    if (!old?.used || old.replaced_by !== lostHash || old.grace_used || !old.used_at) return false;
    if (Date.parse(old.used_at) < spentSince.getTime() || Date.parse(old.expires_at) <= now.getTime()) return false;
    if (!lost || lost.used || this.families.get(next.family_id)?.revoked !== false) return false;
    this.tokens.set(oldHash, { ...old, grace_used: true });
    this.tokens.set(lostHash, {
      ...lost,
      used: true,
      used_at: now.toISOString(),
      replaced_by: nextHash,
      grace_used: true,
    });
    this.tokens.set(nextHash, { ...next, used: false });
    this.committed.push(...events);
    return true;
  }
  async revokeFamily(family: string, _now: Date, events: readonly OutboxEntry[]): Promise<void> {
    if (!this.families.has(family)) return;
    this.committed.push(...events);
    this.families.delete(family);
    for (const [h, t] of this.tokens) if (t.family_id === family) this.tokens.delete(h);
  }
}

function setup(opts: { refreshTtlS?: number; refreshGraceS?: number } = {}) {
  const w = world();
  const boots = new Map<string, BootstrapLookup>();
  const store = new MemoryRefreshStore();
  const revoked = new Set<string>();
  const flushed: OutboxEntry[] = [];
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
      consume: async (hash, _now, also = [], events = []) => {
        const b = boots.get(hash);
        if (!b || b.used) return false;
        boots.set(hash, { ...b, used: true });
        store.commit(also);
        store.committed.push(...events);
        return true;
      },
    },
    refresh: store,
    refreshTtlS: opts.refreshTtlS ?? 7 * 24 * 3600,
    refreshGraceS: opts.refreshGraceS ?? 0,
    revocations: { get: async (t, a) => (revoked.has(`${t}/${a}`) ? { reason: 'revoked' } : null) },
    events: {
      stage: async (entries) => {
        store.committed.push(...entries);
      },
      discard: async () => undefined,
      flush: async (entries) => {
        flushed.push(...entries);
        return entries.length;
      },
    },
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
  const details = <T>(type: string) =>
    store.committed.filter((e) => e.detailType === type).map((e) => e.detail as unknown as T);
  return {
    w,
    deps,
    store,
    revoked,
    agent,
    bootstrap,
    refresh,
    flushed,
    /** `token.issued` events committed (the audit trail), in order. */
    get issued() {
      return details<TokenIssued>(TOKEN_ISSUED);
    },
    /** `token.refresh_reuse` events committed. */
    get reuses() {
      return details<RefreshReuse>(TOKEN_REFRESH_REUSE);
    },
  };
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
    // The revoked family and its tokens are deleted; nothing more was issued.
    expect(s.store.tokens.size).toBe(0);
    expect(s.store.families.size).toBe(0);
    expect(s.issued.filter((x) => x.grant === 'refresh_token')).toHaveLength(1);
    expect(s.reuses).toEqual([{ ...s.reuses[0], tenant_id: 'acme', agent_id: AGENT_A }]);
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

describe('refresh_token grace re-grant (a lost refresh response, retried)', () => {
  it('accepts the token spent last once more within the window: a fresh pair of the same family, the unseen successor spent', async () => {
    const s = setup({ refreshGraceS: 30 });
    const first = (await s.bootstrap()).refresh_token!;
    const lost = (await s.refresh(first)).refresh_token!; // the response never reached the client
    s.w.clock.advance(10_000);
    const retry = await s.refresh(first);
    expect(retry.refresh_token).toMatch(/^arxrt_/);
    expect(retry.refresh_token).not.toBe(lost);
    const family = s.store.tokens.get(sha256Hex(first))!.family_id;
    expect(s.store.tokens.get(sha256Hex(retry.refresh_token!))).toMatchObject({ family_id: family, used: false });
    expect(s.store.tokens.get(sha256Hex(lost))).toMatchObject({ used: true, grace_used: true });
    expect(s.reuses).toHaveLength(0);
    expect(s.issued.map((e) => [e.grant, e.grace ?? false])).toEqual([
      ['bootstrap', false],
      ['refresh_token', false],
      ['refresh_token', true],
    ]);
    // The new pair works on.
    expect((await s.refresh(retry.refresh_token!)).refresh_token).toMatch(/^arxrt_/);
  });

  it('only once: the same token a third time revokes the family', async () => {
    const s = setup({ refreshGraceS: 30 });
    const first = (await s.bootstrap()).refresh_token!;
    await s.refresh(first);
    const retry = (await s.refresh(first)).refresh_token!;
    expect((await oauthError(s.refresh(first))).error).toBe('invalid_grant');
    expect(s.reuses).toHaveLength(1);
    expect((await oauthError(s.refresh(retry))).error).toBe('invalid_grant');
  });

  it('after the window a retry is a reuse that revokes the family', async () => {
    const s = setup({ refreshGraceS: 30 });
    const first = (await s.bootstrap()).refresh_token!;
    const second = (await s.refresh(first)).refresh_token!;
    s.w.clock.advance(30_001);
    expect((await oauthError(s.refresh(first))).error).toBe('invalid_grant');
    expect(s.reuses).toHaveLength(1);
    expect((await oauthError(s.refresh(second))).error).toBe('invalid_grant');
  });

  it('not for an older token: once the successor was used, the previous one is a reuse', async () => {
    const s = setup({ refreshGraceS: 30 });
    const first = (await s.bootstrap()).refresh_token!;
    const second = (await s.refresh(first)).refresh_token!;
    const third = (await s.refresh(second)).refresh_token!;
    expect((await oauthError(s.refresh(first))).error).toBe('invalid_grant');
    expect(s.reuses).toHaveLength(1);
    expect((await oauthError(s.refresh(third))).error).toBe('invalid_grant');
  });

  it('a replay by a thief inside the window costs the family at the agent’s next refresh', async () => {
    const s = setup({ refreshGraceS: 30 });
    const stolen = (await s.bootstrap()).refresh_token!;
    const agents = (await s.refresh(stolen)).refresh_token!; // the agent got its successor
    const thiefs = (await s.refresh(stolen)).refresh_token!; // the thief replays within the window
    expect((await oauthError(s.refresh(agents))).error).toBe('invalid_grant'); // spent by the re-grant: a reuse
    expect(s.reuses).toHaveLength(1);
    expect((await oauthError(s.refresh(thiefs))).error).toBe('invalid_grant');
  });

  it('a retry racing its own first request gets the re-grant instead of revoking the family', async () => {
    const s = setup({ refreshGraceS: 30 });
    const rt = (await s.bootstrap()).refresh_token!;
    const results = await Promise.all([s.refresh(rt), s.refresh(rt)]);
    expect(new Set(results.map((r) => r.refresh_token)).size).toBe(2);
    expect(s.reuses).toHaveLength(0);
    // Exactly one of the two answers is live: the other was spent by the re-grant.
    const live = results.filter((r) => s.store.tokens.get(sha256Hex(r.refresh_token!))!.used === false);
    expect(live).toHaveLength(1);
    expect((await s.refresh(live[0]!.refresh_token!)).refresh_token).toMatch(/^arxrt_/);
  });

  it('the re-grant checks the agent like any refresh: a revoked agent gets nothing and the family stays', async () => {
    const s = setup({ refreshGraceS: 30 });
    const first = (await s.bootstrap()).refresh_token!;
    const second = (await s.refresh(first)).refresh_token!;
    s.revoked.add(`acme/${AGENT_A}`);
    expect((await oauthError(s.refresh(first))).error).toBe('invalid_grant');
    expect(s.store.tokens.get(sha256Hex(second))!.used).toBe(false);
    expect(s.issued.filter((e) => e.grace)).toHaveLength(0);
  });
});

describe('token issuance audit events (token.issued through the outbox)', () => {
  it('one event per token issued, by each grant, with trace ids and no token material', async () => {
    const s = setup();
    const trace = { correlationId: 'corr-1', traceId: 'a'.repeat(32) };
    const boot = await exchangeToken(
      s.deps,
      { grant_type: GRANT_TOKEN_EXCHANGE, subject_token: 'boot', subject_token_type: TOKEN_TYPE_BOOTSTRAP },
      trace,
    );
    const svid = await exchangeToken(
      s.deps,
      {
        grant_type: GRANT_TOKEN_EXCHANGE,
        subject_token: boot.access_token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience: 'https://crm.example.com',
      },
      trace,
    );
    const refreshed = await exchangeToken(
      s.deps,
      { grant_type: GRANT_REFRESH_TOKEN, refresh_token: boot.refresh_token! },
      trace,
    );
    const events = s.store.committed.filter((e) => e.detailType === TOKEN_ISSUED);
    expect(events.map((e) => e.detail.grant)).toEqual(['bootstrap', 'svid', 'refresh_token']);
    for (const [e, tok] of [
      [events[0]!, boot.access_token],
      [events[1]!, svid.access_token],
      [events[2]!, refreshed.access_token],
    ] as const) {
      expect(e.detail).toMatchObject({
        tenant_id: 'acme',
        agent_id: AGENT_A,
        correlation_id: 'corr-1',
        trace_id: 'a'.repeat(32),
        jti: decodeJwt(tok).jti,
        audience: decodeJwt(tok).aud,
        generation: 1,
      });
      expect(e.detail.event_id).toMatch(/^evt_/);
    }
    expect(new Set(events.map((e) => e.detail.event_id)).size).toBe(3);
    const text = JSON.stringify(s.store.committed);
    for (const secret of [boot.access_token, boot.refresh_token!, svid.access_token, refreshed.refresh_token!, 'boot"'])
      expect(text).not.toContain(secret);
    // Committed, then published.
    expect(s.flushed.map((e) => e.detail.event_id)).toEqual(events.map((e) => e.detail.event_id));
  });

  it('no token when the write that carries its event fails; nothing is committed', async () => {
    const s = setup();
    const rt = (await s.bootstrap()).refresh_token!;
    const before = s.store.committed.length;
    s.store.rotate = async () => {
      throw new DependencyError('control table unavailable');
    };
    await expect(s.refresh(rt)).rejects.toBeInstanceOf(DependencyError);
    expect(s.store.committed.length).toBe(before);
    expect(s.store.tokens.get(sha256Hex(rt))!.used).toBe(false);
  });
});
