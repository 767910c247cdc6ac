import { describe, expect, it } from 'vitest';
import {
  IdempotencyInProgress,
  idempotentSubmit,
  type IdempotencyRecord,
  type IdempotencyStore,
} from '../../../lambdas/actions/core/idempotency.js';
import type { ActionRecord } from '../../../lambdas/actions/core/model.js';
import { agent, harness, trace } from './fakes.js';

/** In-memory IdempotencyStore with the DynamoDB adapter's conditional semantics. */
class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();
  readonly released: string[] = [];
  failRelease = false;
  private k = (t: string, key: string) => `${t}|${key}`;
  async claim(r: IdempotencyRecord, nowEpoch: number) {
    const got = this.records.get(this.k(r.tenant_id, r.key));
    if (got && got.expires_at_epoch >= nowEpoch) return structuredClone(got);
    this.records.set(this.k(r.tenant_id, r.key), structuredClone(r));
    return null;
  }
  async takeOver(r: IdempotencyRecord, previousClaimedAt: string) {
    const got = this.records.get(this.k(r.tenant_id, r.key));
    if (got?.status !== 'in_progress' || got.claimed_at !== previousClaimedAt) return false;
    this.records.set(this.k(r.tenant_id, r.key), { ...got, claimed_at: r.claimed_at });
    return true;
  }
  async complete(t: string, key: string) {
    const got = this.records.get(this.k(t, key));
    if (got) this.records.set(this.k(t, key), { ...got, status: 'completed' });
  }
  async release(t: string, key: string, actionId: string) {
    if (this.failRelease) throw new Error('ServiceUnavailable');
    const got = this.records.get(this.k(t, key));
    if (got?.action_id === actionId && got.status === 'in_progress') {
      this.records.delete(this.k(t, key));
      this.released.push(key);
    }
  }
}

const read = { connector: 'okta', operation: 'users:read', params: {} };
const unavailable = () => Object.assign(new Error('ServiceUnavailable: injected'), { name: 'ServiceUnavailable' });

function setup() {
  const h = harness();
  const idem = new MemoryIdempotencyStore();
  let getActionFails = false;
  const deps = {
    store: idem,
    now: () => h.clock.now(),
    getAction: (t: string, id: string) => (getActionFails ? Promise.reject(unavailable()) : h.store.getAction(t, id)),
    staleAfterMs: 34_000,
  };
  const post = (key: string, body: unknown = read) =>
    idempotentSubmit(deps, { tenantId: agent.tenantId, agentId: agent.agentId, key, body }, (id) =>
      h.svc.submit(agent, body as typeof read, trace, id).then((o): ActionRecord => o.action),
    );
  return { h, idem, post, failGetAction: (v: boolean) => (getActionFails = v) };
}

describe('idempotentSubmit: a failed first request and its retry', () => {
  it('an internal error before the action is stored releases the claim: the retry runs at once, one connector call', async () => {
    const { h, idem, post } = setup();
    const create = h.store.create.bind(h.store);
    let failures = 1;
    h.store.create = async (...a) => {
      if (failures-- > 0) throw unavailable();
      return create(...a);
    };
    await expect(post('k-500')).rejects.toThrow('ServiceUnavailable');
    expect(idem.released).toEqual(['k-500']);
    expect(h.okta.calls).toHaveLength(0);
    const retry = await post('k-500');
    expect(retry.status).toBe('executed');
    expect(h.okta.calls).toHaveLength(1);
    // a later retry answers the same action without running it again
    expect((await post('k-500')).action_id).toBe(retry.action_id);
    expect(h.okta.calls).toHaveLength(1);
  });

  it('an internal error once the action is stored keeps the claim: the retry gets 409, never a second execution', async () => {
    const { h, idem, post } = setup();
    // the execution's claim of the stored action fails: the action exists (pending_execution), recovery owns it
    h.store.claim = async () => {
      throw unavailable();
    };
    await expect(post('k-stored')).rejects.toThrow('ServiceUnavailable');
    expect(idem.released).toEqual([]);
    const err = await post('k-stored').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyInProgress);
    expect(h.okta.calls).toHaveLength(0);
    expect(h.store.actions.size).toBe(1);
  });

  it('an internal error whose action cannot be read back keeps the claim (it may exist)', async () => {
    const { h, idem, post, failGetAction } = setup();
    h.store.create = async () => {
      throw unavailable();
    };
    failGetAction(true);
    await expect(post('k-unknown')).rejects.toThrow('ServiceUnavailable');
    expect(idem.released).toEqual([]);
    expect(idem.records.get('t1|k-unknown')?.status).toBe('in_progress');
  });

  it('a refusal (4xx) before anything is stored releases the claim, as before', async () => {
    const { idem, post } = setup();
    await expect(post('k-400', { connector: 'okta', operation: 'users:nope', params: {} })).rejects.toMatchObject({
      status: 400,
    });
    expect(idem.released).toEqual(['k-400']);
  });

  it('a release that fails too rethrows the original error; the claim is left to go stale', async () => {
    const { h, idem, post } = setup();
    h.store.create = async () => {
      throw unavailable();
    };
    idem.failRelease = true;
    await expect(post('k-both')).rejects.toThrow('ServiceUnavailable: injected');
    expect(idem.records.get('t1|k-both')?.status).toBe('in_progress');
  });
});
