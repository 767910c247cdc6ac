// biome-ignore-all lint/suspicious/noExplicitAny: HTTP JSON bodies and SDK outputs
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKeySet, readS3 } from '../../../cli/commands/verify.js';
import { blockId, blockKey } from '../../../lambdas/audit/core/block.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { clearFaults, injectFaults, injectedCount, resetFaultStats } from '../../../local/faults.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { onEveryAwsClient } from '../../../local/sdk-middleware.js';
import { api, eventually, exchangeBootstrap, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from '../actions/support.js';

const POLICY = `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;
const TENANT = 'acme';
/** The executor's connector timeout (lambdas/actions/core/execution.ts: 15 s). */
const CONNECTOR_TIMEOUT_MS = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exactly = (name: string) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Every message the runtime's pollers receive from the emulated queues (the real delivery path). */
const received: { queueUrl: string; body: string }[] = [];
onEveryAwsClient('deliveryScenarioTap', 'initialize', (next, context) => async (a) => {
  const out = (await next(a)) as any;
  if (context.commandName === 'ReceiveMessageCommand')
    for (const m of out?.output?.Messages ?? []) received.push({ queueUrl: (a.input as any).QueueUrl, body: m.Body });
  return out;
});

/**
 * Issue 18, delivery and crash scenarios on the local runtime: duplicate deliveries, a sealer that
 * dies mid-block, a connector that times out, a keyed request failing before its connector ran.
 * Faults go through local/faults.ts into the runtime's own SDK clients (the handlers run in this process).
 */
describe('faults on the local runtime: at-least-once delivery, crashes and timeouts leave one effect', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let hook: Awaited<ReturnType<typeof recordingServer>>;
  let admin: string;
  let auditor: string;
  let svid: string;
  /** While set, the fake Okta answers only after this many ms. */
  let oktaDelayMs = 0;
  /** Calls the fake Okta has answered (a late answer counts once it is sent). */
  let oktaAnswered = 0;
  const sqs = new SQSClient({});
  const s3 = new S3Client({ forcePathStyle: true });

  const exchange = async (bootstrap: string) => {
    const r = await exchangeBootstrap(rt.url, bootstrap);
    expect(r.status).toBe(200);
    return r.json.access_token as string;
  };

  const register = async (name: string) => {
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: { platform: 'langchain', platform_native_id: name, owner: { oidc_sub: 'owner-1' } },
    });
    expect(reg.status).toBe(201);
    return { agentId: reg.json.agent_id as string, bootstrap: reg.json.bootstrap_token as string };
  };
  const act = (token: string, key?: string) =>
    call('POST', '/v1/actions', {
      token,
      body: { connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } },
      ...(key ? { headers: { 'idempotency-key': key } } : {}),
    });
  const oktaCalls = () => okta.calls.filter((c) => c.path === '/api/v1/users/00u1').length;
  const auditEvents = async (q: string) =>
    (await call('GET', `/v1/audit/events?limit=200&${q}`, { token: auditor })).json.items as any[];
  const eventsOfAction = async (type: string, actionId: string) =>
    (await auditEvents(`type=${type}`)).filter((e) => e.action_id === actionId);
  const status = async () => (await call('GET', '/v1/audit/chain/status', { token: auditor })).json;
  const proof = (eventId: string) => call('GET', `/v1/audit/events/${eventId}/proof`, { token: auditor });
  /** Every audit event of the tenant (all pages). */
  const allEvents = async () => {
    const out: any[] = [];
    let next: string | undefined;
    do {
      const r = await call(
        'GET',
        `/v1/audit/events?limit=200${next ? `&next_token=${encodeURIComponent(next)}` : ''}`,
        { token: auditor },
      );
      out.push(...r.json.items);
      next = r.json.next_token;
    } while (next);
    return out;
  };
  /** The chain as arx-verify reads it from the Object Lock bucket: every block, every stored version. */
  const verifyStored = async () => {
    const sources = await readS3(`s3://${rt.env.ARX_AUDIT_BUCKET}/tenants/${TENANT}/blocks/`, s3);
    const jwks = await loadKeySet(`${rt.url}/tenants/${TENANT}/.well-known/audit-keys.json`);
    const leaves = sources.flatMap((src) => (JSON.parse(src.text).events as any[]).map((e) => e.event_id as string));
    return { sources, leaves, outcome: await verifyChain(sources, { jwks }) };
  };

  beforeAll(async () => {
    const fake = fakeOkta('t0k');
    okta = await recordingServer(async (c) => {
      if (oktaDelayMs) await sleep(oktaDelayMs);
      oktaAnswered++;
      return fake.handler(c);
    });
    hook = await recordingServer(() => ({ status: 204 }));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: TENANT, roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'audrey', tenant: TENANT, roles: ['auditor'] });
    const put = await call('PUT', '/v1/connectors/okta', {
      token: admin,
      body: { config: { base_url: okta.url }, secret: { api_token: 't0k' } },
    });
    expect(put.status).toBe(200);
    const b = await call('POST', '/v1/policies/bundles', { token: admin, body: { format: 'yaml', document: POLICY } });
    expect((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, { token: admin })).status).toBe(200);
    svid = await exchange((await register('delivery-main')).bootstrap);
  });
  afterEach(() => {
    clearFaults();
    resetFaultStats();
    oktaDelayMs = 0;
  });
  afterAll(async () => {
    clearFaults();
    await rt?.stop();
    await okta?.close();
    await hook?.close();
  });

  it('the same bus event delivered three times (SQS redelivery): one audit event, one webhook call, one sealed leaf', async () => {
    const sub = await call('POST', '/v1/subscriptions', {
      token: admin,
      body: {
        kind: 'webhook',
        url: `${hook.url}/hook`,
        event_types: ['inventory.change', 'operation.executed'],
        format: 'arx',
      },
    });
    expect(sub.status).toBe(201);
    const { agentId } = await register('dup-delivery');
    const r = await act(svid);
    expect(r.status).toBe(200);
    const actionId = r.json.action_id as string;
    // The messages exactly as the emulated bus put them on the runtime's queue and its poller took them.
    const message = (pred: (e: any) => boolean) =>
      received.find((m) => {
        const e = JSON.parse(m.body);
        return pred(e);
      });
    const [registered, executed] = await eventually(async () => {
      const a = message((e) => e['detail-type'] === 'inventory.change' && e.detail?.agent_id === agentId);
      const b = message((e) => e['detail-type'] === 'operation.executed' && e.detail?.action_id === actionId);
      return a && b ? [a, b] : null;
    }, 20_000);
    const hookCalls = (eventId: string) => hook.calls.filter((c) => c.body.includes(eventId)).length;
    const regId = JSON.parse(registered.body).detail.event_id as string;
    const execId = JSON.parse(executed.body).detail.event_id as string;
    await eventually(async () => hookCalls(regId) === 1 && hookCalls(execId) === 1, 20_000);
    // Redelivered twice more each, as SQS does once a visibility timeout passes: new messages, same bodies.
    for (const m of [registered, executed, registered, executed])
      await sqs.send(new SendMessageCommand({ QueueUrl: m.queueUrl, MessageBody: m.body }));
    const times = (m: { body: string }) => received.filter((x) => x.body === m.body).length;
    await eventually(async () => times(registered) >= 3 && times(executed) >= 3, 20_000);
    // Taken by every consumer: the queue holds nothing, in flight or waiting.
    await eventually(async () => {
      const q = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: registered.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        q.Attributes?.ApproximateNumberOfMessages === '0' && q.Attributes?.ApproximateNumberOfMessagesNotVisible === '0'
      );
    }, 20_000);
    const auditedReg = await auditEvents(`agent_id=${agentId}&type=identity.agent.registered`);
    expect(auditedReg).toHaveLength(1);
    expect(await eventsOfAction('operation.executed', actionId)).toHaveLength(1);
    expect(hookCalls(regId)).toBe(1);
    expect(hookCalls(execId)).toBe(1);
    const deliveries = (await call('GET', `/v1/subscriptions/${sub.json.subscription_id}/deliveries`, { token: admin }))
      .json.items as any[];
    expect(deliveries.filter((d) => d.event_id === regId)).toHaveLength(1);
    expect(deliveries.filter((d) => d.event_id === execId)).toHaveLength(1);
    // Sealed once: one inclusion proof, and the event is one leaf of the stored chain.
    const ev = auditedReg[0];
    await eventually(async () => (await proof(ev.event_id)).status === 200, 30_000, 500);
    const { leaves, outcome } = await verifyStored();
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    expect(leaves.filter((id) => id === ev.event_id)).toHaveLength(1);
  }, 60_000);

  it('the sealer dies after storing a block, then again partway through marking it: every event sealed once, chain verifies', async () => {
    const audit = exactly(rt.env.ARX_AUDIT_TABLE!);
    await eventually(async () => (await status()).pending_events === 0, 30_000, 500);
    const h0 = (await status()).height as number;
    // Hold sealing (the block write fails) while a few actions record their events.
    injectFaults([{ service: 's3', kind: '5xx', rate: 1, operations: ['PutObject'] }]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await act(svid);
      expect(r.status).toBe(200);
      ids.push(r.json.action_id);
    }
    expect((await status()).pending_events).toBeGreaterThanOrEqual(6);
    // Crash 1: the block is stored, the head commit fails (the sealer dies between the two).
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, operations: ['TransactWriteItems'], table: audit }]);
    const key = blockKey(TENANT, h0 + 1);
    await eventually(
      () =>
        s3
          .send(new HeadObjectCommand({ Bucket: rt.env.ARX_AUDIT_BUCKET, Key: key }))
          .then(() => injectedCount('dynamodb') > 0)
          .catch(() => false),
      30_000,
      250,
    );
    expect((await status()).height).toBe(h0);
    // Crash 2: the next run commits the block, marks two of its events and dies.
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, operations: ['UpdateItem'], table: audit, after: 2 }]);
    const during = await eventually(
      async () => {
        const s = await status();
        return s.height === h0 + 1 && s.pending_events > 0 ? s : null;
      },
      30_000,
      250,
    );
    expect(during.height).toBe(h0 + 1);
    const block = (await call('GET', `/v1/audit/blocks/${blockId(h0 + 1)}`, { token: auditor })).json;
    const inBlock = (block.events as any[]).map((e) => e.event_id as string);
    expect(inBlock.length).toBeGreaterThanOrEqual(6);
    const proofsDuring = await Promise.all(inBlock.map(async (id) => (await proof(id)).status));
    // Half-marked: some events already have their proof, the rest are not yet answered as sealed.
    expect(proofsDuring.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(proofsDuring.filter((s) => s === 409).length).toBeGreaterThan(0);
    await sleep(5500); // a run after the crash (every 5 s), still failing, changes nothing
    expect((await status()).height).toBe(h0 + 1);
    clearFaults();
    await eventually(async () => (await status()).pending_events === 0, 30_000, 500);
    for (const id of inBlock) expect((await proof(id)).json.block_id).toBe(block.head.block_id);
    // Each of the actions' events is in exactly one block, once; the tree holds exactly the events.
    const { sources, leaves, outcome } = await verifyStored();
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    expect(sources.find((s) => s.name === key)?.versions).toHaveLength(1);
    expect(new Set(leaves).size).toBe(leaves.length);
    const all = await allEvents();
    for (const id of ids)
      for (const e of all.filter((x) => x.action_id === id))
        expect(leaves.filter((l) => l === e.event_id)).toHaveLength(1);
    await eventually(
      async () => {
        const s = await status();
        return s.pending_events === 0 && s.tree_size === (await allEvents()).length;
      },
      30_000,
      500,
    );
  }, 90_000);

  it('a connector that answers after its timeout: the action is failed (timeout) and audited; the same key answers that failed action without calling again; a new request runs once', async () => {
    oktaDelayMs = CONNECTOR_TIMEOUT_MS + 1500;
    const before = oktaCalls();
    const answeredBefore = oktaAnswered;
    const t0 = Date.now();
    const r = await act(svid, 'timeout-1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(CONNECTOR_TIMEOUT_MS - 100);
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({ status: 'failed', error: { code: 'timeout', retryable: true } });
    const id = r.json.action_id as string;
    const got = await call('GET', `/v1/actions/${id}`, { token: admin });
    expect(got.json).toMatchObject({ status: 'failed', error: { code: 'timeout' } });
    const failedEvents = await eventsOfAction('operation.failed', id);
    expect(failedEvents).toHaveLength(1);
    expect(failedEvents[0].decision).toBe('failed');
    expect(await eventsOfAction('operation.executed', id)).toHaveLength(0);
    // Retried with the same Idempotency-Key: the first outcome, no second call to the connector.
    const again = await act(svid, 'timeout-1');
    expect(again.status).toBe(502);
    expect(again.json).toMatchObject({ action_id: id, status: 'failed' });
    expect(oktaCalls() - before).toBe(1);
    // The late answer arrives: the action stays failed (nothing recorded it as executed).
    oktaDelayMs = 0;
    await eventually(async () => oktaAnswered >= answeredBefore + 1, 10_000, 100);
    await sleep(200);
    expect((await call('GET', `/v1/actions/${id}`, { token: admin })).json.status).toBe('failed');
    // A new request is a new action: it runs once.
    const fresh = await act(svid, 'timeout-2');
    expect(fresh.status).toBe(200);
    expect(fresh.json.action_id).not.toBe(id);
    expect(oktaCalls() - before).toBe(2);
    expect(await eventsOfAction('operation.executed', id)).toHaveLength(0);
  }, 60_000);

  it('a keyed request that fails with 500 before its action is stored: the retry with the same key runs (no 409), one connector call', async () => {
    const control = exactly(rt.env.ARX_CONTROL_TABLE!);
    const before = oktaCalls();
    // The action's creation (one transaction in the control table) fails after the key was claimed.
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, operations: ['TransactWriteItems'], table: control }]);
    const failed = await act(svid, 'idem-500');
    expect(injectedCount('dynamodb')).toBeGreaterThan(0);
    expect(failed.status).toBe(500);
    expect(oktaCalls()).toBe(before);
    clearFaults();
    const retry = await act(svid, 'idem-500');
    expect(retry.status).toBe(200);
    expect(retry.json.status).toBe('executed');
    expect(oktaCalls() - before).toBe(1);
    // And the key now answers that action, without running it again.
    const third = await act(svid, 'idem-500');
    expect(third.status).toBe(200);
    expect(third.json.action_id).toBe(retry.json.action_id);
    expect(oktaCalls() - before).toBe(1);
    expect(await eventsOfAction('operation.executed', retry.json.action_id)).toHaveLength(1);
  }, 60_000);
});
