// Refresh tokens on moto through the real token endpoint: every issuance is an audit event committed
// through the outbox, the grace re-grant after a lost response, and the clean-up of spent, revoked
// and terminated agents' tokens.
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { decodeJwt } from 'jose';
import { sha256Hex } from '../../../lambdas/shared/ids.js';
import { EventBridgePublisher } from '../../../lambdas/shared/events.js';
import { Outbox, outboxPk } from '../../../lambdas/shared/outbox.js';
import { createIdentityService } from '../../../lambdas/identity/service.js';
import { createCredentialBroker } from '../../../lambdas/identity/broker.js';
import { exchangeToken, GRANT_REFRESH_TOKEN } from '../../../lambdas/identity/core/token-exchange.js';
import { auditInputFromBus } from '../../../lambdas/audit/core/bus.js';
import { createAuditSink } from '../../../lambdas/audit/sink.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { downBus, later, observeBus, type BusEvent } from '../outbox/support.js';
import { admin, BOOT, GRANT, JWT, sharedIdentity, type setupIdentity, uniqueTenant } from './harness.js';

type H = Awaited<ReturnType<typeof setupIdentity>>;
let h: H;
let bus: Awaited<ReturnType<typeof observeBus>>;
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TENANT = uniqueTenant();

async function register(tenant = TENANT) {
  const r = await h.api('POST', '/v1/identity/agents', {
    auth: admin(tenant),
    ...h.json({ platform: 'custom', platform_native_id: `n-${Math.random()}`, owner: { oidc_sub: 'owner-l' } }),
  });
  expect(r.status).toBe(201);
  return r.json as { agent_id: string; bootstrap_token: string };
}
const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  h.api('POST', '/v1/identity/token', h.form(params, headers));
const refresh = (rt: string, extra: Record<string, string> = {}) =>
  token({ grant_type: 'refresh_token', refresh_token: rt, ...extra });
async function bootstrap(agent: { bootstrap_token: string }, headers: Record<string, string> = {}) {
  const r = await token({ grant_type: GRANT, subject_token: agent.bootstrap_token, subject_token_type: BOOT }, headers);
  expect(r.status).toBe(200);
  return r.json as { access_token: string; refresh_token: string };
}
async function refreshed(rt: string): Promise<string> {
  const r = await refresh(rt);
  expect(r.status).toBe(200);
  return r.json.refresh_token as string;
}
function expectInvalidGrant(r: { status: number; json: any }) {
  expect([r.status, r.json.error]).toEqual([400, 'invalid_grant']);
  expect(r.json.access_token).toBeUndefined();
  expect(r.json.refresh_token).toBeUndefined();
}
const get = async (pk: string, sk: string) =>
  (await ddb.send(new GetCommand({ TableName: h.env.ARX_CONTROL_TABLE, Key: { pk, sk }, ConsistentRead: true }))).Item;
const tokenItem = (rt: string) => get(`RT#${sha256Hex(rt)}`, 'RT');
const familyItem = (family: string) => get(`RTFAM#${family}`, 'RTFAM');
/** Items of one gsi1 partition of the control table (a family's tokens, an agent's families). */
const gsi1 = async (pk: string) =>
  (
    await ddb.send(
      new QueryCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': pk },
      }),
    )
  ).Items ?? [];
const outboxOf = async (tenant: string) =>
  (
    await ddb.send(
      new QueryCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': outboxPk(tenant) },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];
/** The token events of `tenant` on the bus (the observer's queue is shared by the file: others are dropped). */
async function eventsOf(tenant: string, want: number): Promise<BusEvent[]> {
  const out: BusEvent[] = [];
  for (let i = 0; i < 10 && out.length < want; i++)
    out.push(
      ...(await bus.receive(1500)).filter(
        (e) => e.detail.tenant_id === tenant && e['detail-type'].startsWith('token.'),
      ),
    );
  // Event ids are ULIDs: their order is the order of issue (a queue need not keep it).
  return out.sort((a, b) => a.detail.event_id.localeCompare(b.detail.event_id));
}

beforeAll(async () => {
  h = await sharedIdentity();
  bus = await observeBus(h.env.ARX_EVENT_BUS!);
});

describe('token issuance is audited (token.issued through the outbox)', () => {
  it('each grant publishes one token.issued with the request’s trace ids, and the audit consumer records each once', async () => {
    const tenant = uniqueTenant();
    const agent = await register(tenant);
    const trace = { 'x-correlation-id': 'corr-token-audit' };
    const boot = await bootstrap(agent, trace);
    const narrowed = await token(
      { grant_type: GRANT, subject_token: boot.access_token, subject_token_type: JWT, audience: 'https://crm.example' },
      trace,
    );
    expect(narrowed.status).toBe(200);
    const next = await refresh(boot.refresh_token);
    expect(next.status).toBe(200);

    const events = await eventsOf(tenant, 3);
    expect(events.map((e) => [e['detail-type'], e.detail.grant])).toEqual([
      ['token.issued', 'bootstrap'],
      ['token.issued', 'svid'],
      ['token.issued', 'refresh_token'],
    ]);
    const jtis = [boot.access_token, narrowed.json.access_token, next.json.access_token].map((t) => decodeJwt(t).jti);
    expect(events.map((e) => e.detail.jti)).toEqual(jtis);
    expect(events[0]!.detail).toMatchObject({ agent_id: agent.agent_id, correlation_id: 'corr-token-audit' });
    expect(events[1]!.detail).toMatchObject({ audience: 'https://crm.example', correlation_id: 'corr-token-audit' });
    const text = JSON.stringify(events);
    for (const secret of [boot.access_token, boot.refresh_token, next.json.refresh_token, agent.bootstrap_token])
      expect(text).not.toContain(secret);
    // Published, so nothing is left in the outbox.
    expect(await outboxOf(tenant)).toEqual([]);

    const recorder = createAuditSink({ table: h.env.ARX_AUDIT_TABLE!, dataKeyArn: h.env.ARX_DATA_KEY_ARN! }).recorder();
    for (const e of [...events, events[0]!]) {
      const m = auditInputFromBus(e['detail-type'], e.detail, new Date())!;
      await recorder.recordEvent(m.input, m.dedupeKey);
    }
    const audited = await new DynamoEventStore(h.env.ARX_AUDIT_TABLE!).listEvents(tenant, {
      type: 'identity.token.issued',
      limit: 10,
    });
    expect(audited.items.map((e) => e.action).sort()).toEqual([
      'identity:tokens:bootstrap',
      'identity:tokens:refresh_token',
      'identity:tokens:svid',
    ]);
    expect(audited.items.every((e) => e.agent_id === agent.agent_id)).toBe(true);
  });

  it('with the bus down the token is still answered and its event waits in the outbox until the relay publishes it', async () => {
    const tenant = uniqueTenant();
    const agent = await register(tenant);
    const env = { ...process.env, ...h.env };
    const down = createIdentityService({ env, publisher: downBus() });
    const rt = (await bootstrap(agent)).refresh_token;
    await eventsOf(tenant, 1); // the bootstrap's event, published by the handler
    const out = await exchangeToken(down.tokenDeps, { grant_type: GRANT_REFRESH_TOKEN, refresh_token: rt });
    expect(out.refresh_token).toMatch(/^arxrt_/);
    const waiting = await outboxOf(tenant);
    expect(waiting.map((i) => [i.detail_type, (i.detail as { grant: string }).grant])).toEqual([
      ['token.issued', 'refresh_token'],
    ]);
    const up = new Outbox(h.env.ARX_CONTROL_TABLE!, new EventBridgePublisher(h.env.ARX_EVENT_BUS!));
    expect(await up.relay(later())).toBeGreaterThanOrEqual(1);
    const events = await eventsOf(tenant, 1);
    expect(events.map((e) => [e['detail-type'], e.detail.jti])).toEqual([
      ['token.issued', decodeJwt(out.access_token).jti],
    ]);
    expect(await outboxOf(tenant)).toEqual([]);
  });

  it('a refused request publishes nothing', async () => {
    const tenant = uniqueTenant();
    const agent = await register(tenant);
    await bootstrap(agent);
    await eventsOf(tenant, 1);
    expectInvalidGrant(
      await token({ grant_type: GRANT, subject_token: agent.bootstrap_token, subject_token_type: BOOT }),
    );
    expectInvalidGrant(await refresh('arxrt_unknown'));
    expect(await bus.receive(1500).then((es) => es.filter((e) => e.detail.tenant_id === tenant))).toEqual([]);
    expect(await outboxOf(tenant)).toEqual([]);
  });
});

describe('grace re-grant of the previous refresh token (ARX_REFRESH_GRACE_SECONDS, default 30)', () => {
  it('a retry after a lost response gets a fresh pair of the same family, once; the unseen successor is spent', async () => {
    const tenant = uniqueTenant();
    const agent = await register(tenant);
    const first = (await bootstrap(agent)).refresh_token;
    const lost = await refreshed(first); // the answer never reached the agent
    const retry = await refresh(first);
    expect(retry.status).toBe(200);
    const again = retry.json.refresh_token as string;
    expect(again).not.toBe(lost);
    const family = String((await tokenItem(first))!.family_id);
    expect(await tokenItem(again)).toMatchObject({ family_id: family, used: false });
    expect(await tokenItem(lost)).toMatchObject({ used: true, grace_used: true, superseded: true });
    expect(await tokenItem(first)).toMatchObject({ grace_used: true, regranted_to: sha256Hex(again) });
    const events = await eventsOf(tenant, 3);
    expect(events.map((e) => [e.detail.grant, e.detail.grace ?? false])).toEqual([
      ['bootstrap', false],
      ['refresh_token', false],
      ['refresh_token', true],
    ]);
    // The new pair works on, and the family keeps its deadline.
    const after = await refreshed(again);
    expect((await tokenItem(after))!.expires_at).toBe((await familyItem(family))!.expires_at);
  });

  it('the previous token a third time is a reuse: the family is revoked, audited and deleted with its tokens', async () => {
    const tenant = uniqueTenant();
    const agent = await register(tenant);
    const first = (await bootstrap(agent)).refresh_token;
    await refreshed(first);
    const regranted = await refreshed(first);
    const family = String((await tokenItem(first))!.family_id);
    expect(await gsi1(`RTFAM#${family}`)).toHaveLength(3);
    expectInvalidGrant(await refresh(first));
    expectInvalidGrant(await refresh(regranted));
    expect(await familyItem(family)).toBeUndefined();
    expect(await gsi1(`RTFAM#${family}`)).toEqual([]);
    for (const rt of [first, regranted]) expect(await tokenItem(rt)).toBeUndefined();
    const events = await eventsOf(tenant, 4);
    expect(events.map((e) => e['detail-type'])).toEqual([
      'token.issued',
      'token.issued',
      'token.issued',
      'token.refresh_reuse',
    ]);
    expect(events[3]!.detail).toMatchObject({ agent_id: agent.agent_id, refresh_family: family });
    const m = auditInputFromBus('token.refresh_reuse', events[3]!.detail, new Date())!;
    expect(m.input).toMatchObject({ event_type: 'identity.token.family_revoked', decision: 'revoked' });
  });

  it('after the window the previous token is a reuse and revokes the family', async () => {
    const agent = await register();
    const first = (await bootstrap(agent)).refresh_token;
    const second = await refreshed(first);
    await ddb.send(
      new UpdateCommand({
        TableName: h.env.ARX_CONTROL_TABLE,
        Key: { pk: `RT#${sha256Hex(first)}`, sk: 'RT' },
        UpdateExpression: 'SET used_at = :t',
        ExpressionAttributeValues: { ':t': new Date(Date.now() - 31_000).toISOString() },
      }),
    );
    const family = String((await tokenItem(first))!.family_id);
    expectInvalidGrant(await refresh(first));
    expectInvalidGrant(await refresh(second));
    expect(await familyItem(family)).toBeUndefined();
  });

  it('refuses a revoked agent inside the window, and another tenant’s client_id, spending nothing', async () => {
    const agent = await register();
    const first = (await bootstrap(agent)).refresh_token;
    const second = await refreshed(first);
    const other = await register(uniqueTenant());
    const e = await refresh(first, { client_id: other.agent_id });
    expect([e.status, e.json.error]).toEqual([401, 'invalid_client']);
    expect(await tokenItem(first)).not.toHaveProperty('grace_used');
    const rv = await h.api('POST', '/v1/identity/agents/{id}/revoke', {
      params: { id: agent.agent_id },
      auth: admin(TENANT),
      ...h.json({ reason: 'compromised' }),
    });
    expect(rv.status).toBe(200);
    expectInvalidGrant(await refresh(first));
    expectInvalidGrant(await refresh(second));
  });
});

describe('refresh token clean-up', () => {
  it('a spent token is kept only for the reuse window (TTL), the live one until the family deadline', async () => {
    const agent = await register();
    const first = (await bootstrap(agent)).refresh_token;
    const second = await refreshed(first);
    const now = Date.now() / 1000;
    const spent = Number((await tokenItem(first))!.expires_at_epoch);
    expect(spent).toBeGreaterThan(now + 86_400 - 120);
    expect(spent).toBeLessThanOrEqual(now + 86_400 + 5);
    expect(Number((await tokenItem(second))!.expires_at_epoch)).toBeGreaterThan(now + 29 * 86_400);
  });

  it('revoking an agent deletes its families and tokens; another tenant’s agent keeps its own', async () => {
    const agent = await register();
    const rt = (await bootstrap(agent)).refresh_token;
    const latest = await refreshed(rt);
    const otherTenant = uniqueTenant();
    const bystander = await register(otherTenant);
    const keep = (await bootstrap(bystander)).refresh_token;
    const family = String((await tokenItem(latest))!.family_id);
    expect(await gsi1(`T#${TENANT}#RTAGENT#${agent.agent_id}`)).toHaveLength(1);

    const rv = await h.api('POST', '/v1/identity/agents/{id}/revoke', {
      params: { id: agent.agent_id },
      auth: admin(TENANT),
      ...h.json({ reason: 'leaving' }),
    });
    expect(rv.status).toBe(200);
    expect(await gsi1(`T#${TENANT}#RTAGENT#${agent.agent_id}`)).toEqual([]);
    expect(await gsi1(`RTFAM#${family}`)).toEqual([]);
    expect(await tokenItem(latest)).toBeUndefined();
    expect(await tokenItem(rt)).toBeUndefined();
    expectInvalidGrant(await refresh(latest));
    // The other tenant's agent is untouched and refreshes on.
    expect(await tokenItem(keep)).toMatchObject({ tenant_id: otherTenant, used: false });
    expect((await refresh(keep)).status).toBe(200);
  });

  it('termination’s credential step deletes them too (the broker cascade the kill switch runs), and rotation does', async () => {
    const agent = await register();
    const a1 = (await bootstrap(agent)).refresh_token;
    await refreshed(a1);
    const svc = createIdentityService({ env: { ...process.env, ...h.env } });
    await svc.revokeAgent({ tenantId: TENANT, subject: 'system:kill-switch' }, agent.agent_id, 'terminated', {
      correlationId: 'c-term',
      traceId: 'b'.repeat(32),
    });
    expect(await gsi1(`T#${TENANT}#RTAGENT#${agent.agent_id}`)).toEqual([]);
    // The kill switch's own credential step (a re-run) finds nothing left.
    const broker = createCredentialBroker({
      controlTable: h.env.ARX_CONTROL_TABLE!,
      revocationTable: h.env.ARX_REVOCATION_TABLE!,
    });
    expect((await broker.revokeAgentCredentials(TENANT, agent.agent_id)).refresh_tokens_revoked).toBe(0);

    const rotated = await register();
    const r1 = (await bootstrap(rotated)).refresh_token;
    const r2 = await refreshed(r1);
    const before = (await gsi1(`RTFAM#${String((await tokenItem(r2))!.family_id)}`)).length;
    expect(before).toBe(2);
    const rot = await h.api('POST', '/v1/identity/agents/{id}/rotate', {
      params: { id: rotated.agent_id },
      auth: admin(TENANT),
    });
    expect(rot.status).toBe(200);
    expect(await tokenItem(r2)).toBeUndefined();
    expect(await gsi1(`T#${TENANT}#RTAGENT#${rotated.agent_id}`)).toEqual([]);
  });

  it('the broker counts what it deleted', async () => {
    const agent = await register();
    const rt = (await bootstrap(agent)).refresh_token;
    await refreshed(await refreshed(rt));
    const broker = createCredentialBroker({
      controlTable: h.env.ARX_CONTROL_TABLE!,
      revocationTable: h.env.ARX_REVOCATION_TABLE!,
    });
    expect((await broker.revokeAgentCredentials(TENANT, agent.agent_id)).refresh_tokens_revoked).toBe(3);
    expectInvalidGrant(await refresh(rt));
  });
});
