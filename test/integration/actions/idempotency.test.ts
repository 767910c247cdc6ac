import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArxClient } from '../../../sdk/index.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { DynamoIdempotencyStore } from '../../../lambdas/actions/adapters/dynamo-idempotency-store.js';
import { IdempotencyInProgress, idempotentSubmit, requestHash } from '../../../lambdas/actions/core/idempotency.js';
import { newId } from '../../../lambdas/shared/ids.js';
import { api, eventually, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from './support.js';

const POLICY = `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;

/**
 * Idempotency-Key on POST /v1/actions over HTTP (local runtime, moto, a local Okta whose answers
 * can be held back to keep a request in flight).
 */
describe('POST /v1/actions honours Idempotency-Key (conditional writes in the control table, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let svid: string;
  let agentId: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let hold: Promise<void> | null = null;
  let releaseAbandoned: (() => void) | undefined;
  let store: DynamoIdempotencyStore;
  const reads = () => okta.calls.filter((c) => c.path.startsWith('/api/v1/users')).length;

  beforeAll(async () => {
    const fake = fakeOkta('okta-idem-token');
    okta = await recordingServer(async (c) => {
      if (hold) await hold;
      return fake.handler(c);
    });
    rt = await startTestRuntime();
    call = api(rt.url);
    store = new DynamoIdempotencyStore(rt.env.ARX_CONTROL_TABLE!);
    const admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-idem-token' } },
        })
      ).status,
    ).toBe(200);
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY },
    });
    expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
      200,
    );
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `idem-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(reg.status).toBe(201);
    agentId = reg.json.agent_id;
    svid = await new ArxClient({ apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token }).token();
  }, 180_000);
  afterAll(async () => {
    releaseAbandoned?.();
    await rt?.stop();
    await okta?.close();
  });

  const post = (key: string | undefined, params: Record<string, unknown>) =>
    call('POST', '/v1/actions', {
      token: svid,
      body: { connector: 'okta', operation: 'users:read', params, correlation_id: 'corr-idem' },
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });

  it('the same key and body returns the first outcome (same action id) and runs the connector once', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    const before = reads();
    const first = await post(key, { filter: 'status eq "ACTIVE"' });
    expect(first.status).toBe(200);
    expect(first.json.status).toBe('executed');
    const again = await post(key, { filter: 'status eq "ACTIVE"' });
    expect(again.status).toBe(200);
    expect(again.json.action_id).toBe(first.json.action_id);
    expect(again.json.result).toEqual(first.json.result);
    expect(reads()).toBe(before + 1);
    const rec = await store.get('acme', key);
    expect(rec).toMatchObject({ status: 'completed', action_id: first.json.action_id });
    // Forgotten by the table's TTL after 24 h.
    expect(rec!.expires_at_epoch - Math.floor(Date.now() / 1000)).toBeGreaterThan(24 * 3600 - 120);
    // Without a key, every POST is a new action.
    const a = await post(undefined, { filter: 'status eq "ACTIVE"' });
    const b = await post(undefined, { filter: 'status eq "ACTIVE"' });
    expect(a.json.action_id).not.toBe(b.json.action_id);
  });

  it('the same key with a different body is 422 and runs nothing', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    const first = await post(key, { filter: 'a' });
    expect(first.status).toBe(200);
    const before = reads();
    const other = await post(key, { filter: 'b' });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    expect(other.json.action_id).toBe(first.json.action_id);
    expect(reads()).toBe(before);
  });

  it('a retry while the first request is still in its connector call gets 409 + Retry-After, never a second execution; later the first outcome', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    const before = reads();
    const first = post(key, { filter: 'slow' });
    await eventually(async () => reads() > before);
    const retry = await post(key, { filter: 'slow' });
    expect(retry.status).toBe(409);
    expect(Number(retry.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(retry.json.action_id).toMatch(/^act_/);
    hold = null;
    release();
    const done = await first;
    expect(done.status).toBe(200);
    expect(done.json.action_id).toBe(retry.json.action_id);
    const later = await post(key, { filter: 'slow' });
    expect(later.json.action_id).toBe(done.json.action_id);
    expect(reads()).toBe(before + 1);
  });

  it('a malformed key is 400 and writes nothing', async () => {
    const before = reads();
    const bad = await post('has spaces in it', { filter: 'x' });
    expect(bad.status).toBe(400);
    expect((await post('x'.repeat(256), { filter: 'x' })).status).toBe(400);
    expect(await store.get('acme', 'has spaces in it')).toBeNull();
    expect(reads()).toBe(before);
  });

  it('a request refused with a 4xx (unknown operation) leaves no claim: the key can be used again', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    const r = await call('POST', '/v1/actions', {
      token: svid,
      body: { connector: 'okta', operation: 'users:nope', params: {} },
      headers: { 'idempotency-key': key },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(await store.get('acme', key)).toBeNull();
  });

  describe('a handler that died (timed out) mid-request leaves a record a retry finds', () => {
    const deps = (staleAfterMs: number) => ({
      store,
      now: () => new Date(),
      staleAfterMs,
      getAction: async (t: string, id: string) =>
        (await import('../../../lambdas/actions/adapters/deps.js')).actionsDeps().store.getAction(t, id),
    });

    it('after the connector call started: the retry gets IdempotencyInProgress (409) even once the claim is stale — never a second execution', async () => {
      const { actionsDeps } = await import('../../../lambdas/actions/adapters/deps.js');
      const key = `k-${randomBytes(6).toString('hex')}`;
      const body = { connector: 'okta', operation: 'users:read', params: { filter: 'died' } };
      hold = new Promise<void>((r) => (releaseAbandoned = r)); // the connector never answers: the first request is abandoned, as a timed-out Lambda is
      const before = reads();
      const trace = {
        traceId: randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
      };
      void idempotentSubmit(deps(50), { tenantId: 'acme', agentId, key, body }, (id) =>
        actionsDeps()
          .service.submit({ tenantId: 'acme', agentId }, body, trace as never, id)
          .then((o) => o.action),
      ).catch(() => undefined);
      await eventually(async () => reads() > before);
      await new Promise((r) => setTimeout(r, 100)); // the claim is now older than staleAfterMs
      hold = null;
      const retry = await idempotentSubmit(deps(50), { tenantId: 'acme', agentId, key, body }, () =>
        Promise.reject(new Error('must not run twice')),
      ).catch((e: unknown) => e);
      expect(retry).toBeInstanceOf(IdempotencyInProgress);
      const rec = await store.get('acme', key);
      expect((retry as IdempotencyInProgress).actionId).toBe(rec!.action_id);
      expect(reads()).toBe(before + 1);
    });

    it('before it created its action: a retry after the claim is stale takes it over and runs it under the same action id', async () => {
      const { actionsDeps } = await import('../../../lambdas/actions/adapters/deps.js');
      const key = `k-${randomBytes(6).toString('hex')}`;
      const body = { connector: 'okta', operation: 'users:read', params: { filter: 'takeover' } };
      const claimedAt = new Date(Date.now() - 60_000);
      const orphanId = newId('act', claimedAt);
      // What a request that died right after claiming leaves behind.
      expect(
        await store.claim(
          {
            tenant_id: 'acme',
            key,
            request_hash: requestHash(agentId, body),
            action_id: orphanId,
            status: 'in_progress',
            claimed_at: claimedAt.toISOString(),
            expires_at_epoch: Math.floor(Date.now() / 1000) + 3600,
          },
          Math.floor(Date.now() / 1000),
        ),
      ).toBeNull();
      // Young claim: the retry is told to wait.
      await expect(
        idempotentSubmit(deps(120_000), { tenantId: 'acme', agentId, key, body }, () =>
          Promise.reject(new Error('no')),
        ),
      ).rejects.toBeInstanceOf(IdempotencyInProgress);
      const trace = {
        traceId: randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
      };
      const a = await idempotentSubmit(deps(30_000), { tenantId: 'acme', agentId, key, body }, (id) =>
        actionsDeps()
          .service.submit({ tenantId: 'acme', agentId }, body, trace as never, id)
          .then((o) => o.action),
      );
      expect(a.action_id).toBe(orphanId);
      expect(a.status).toBe('executed');
      expect(await store.get('acme', key)).toMatchObject({ status: 'completed', action_id: orphanId });
    });
  });
});
