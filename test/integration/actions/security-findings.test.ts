import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import {
  ChannelNotifier,
  SesMailer,
  channelConfigName,
  newLinkKey,
  newWebhookSecret,
  senderAllowed,
  type MailMessage,
  type Mailer,
} from '../../../lambdas/actions/adapters/notifiers.js';
import { OutboundRefusedError, guardedFetch, isNonPublicAddress } from '../../../lambdas/actions/adapters/outbound.js';
import { SecretsManagerStore } from '../../../lambdas/actions/adapters/secrets.js';
import { httpConnector } from '../../../lambdas/actions/connectors/http.js';
import { oktaConnector } from '../../../lambdas/actions/connectors/okta.js';
import { ApprovalCallbacks } from '../../../lambdas/actions/core/callbacks.js';
import { ActionService } from '../../../lambdas/actions/core/service.js';
import { BOUND_ORIGIN, bindSecret } from '../../../lambdas/actions/core/guards.js';
import { connectorSecretName } from '../../../lambdas/actions/core/model.js';
import { TRUNCATION_NOTE } from '../../../lambdas/actions/core/present.js';
import { signLinkToken, slackSignature, webhookSignatureHeader } from '../../../lambdas/actions/core/signing.js';
import { WebhookDecisionBody } from '../../../lambdas/actions/schemas.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { ForbiddenError, UnauthorizedError } from '../../../lambdas/shared/errors.js';
import { agent as baseAgent, harness, manager, silentLog, trace } from '../../unit/actions/fakes.js';
import { createControlTable, fakeOkta, recordingServer } from './support.js';

const tenant = `t-${randomBytes(4).toString('hex')}`;
const agent = { ...baseAgent, tenantId: tenant };
const deactivate = { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'john@acme.com' } };
const signingSecret = `sign-${randomBytes(8).toString('hex')}`;
const FROM = `arx-sec-${randomBytes(3).toString('hex')}@example.com`;
const ses = new SesMailer();
const sent: MailMessage[] = [];
const mailer: Mailer = {
  async send(m) {
    await ses.send(m); // SES (moto) must accept it first
    sent.push(m);
  },
};
const parse = (b: unknown) => WebhookDecisionBody.parse(b);

describe('Security findings F4, F10, F11, F12a, F22, F23 against moto and loopback servers', () => {
  let table: string;
  let slack: Awaited<ReturnType<typeof recordingServer>>;
  let hook: Awaited<ReturnType<typeof recordingServer>>;
  const secrets = new SecretsManagerStore();
  const recipient = `mgr-${randomBytes(4).toString('hex')}@example.com`;
  let webhookSecret: string;

  beforeAll(async () => {
    table = await createControlTable('actions-sec');
    slack = await recordingServer(() => ({ status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } }));
    hook = await recordingServer(() => ({ status: 204 }));
    webhookSecret = newWebhookSecret();
    await secrets.put(`arx/${tenant}/slack`, { bot_token: 'xoxb-test', signing_secret: signingSecret });
    await secrets.put(`arx/${tenant}/email`, { link_key: newLinkKey() });
    await secrets.put(`arx/${tenant}/webhook`, { hmac_secret: webhookSecret });
    await secrets.put(`arx/${tenant}/connectors/okta`, { api_token: 's3cr3t' });
    const store = new DynamoActionStore(table);
    const at = new Date().toISOString();
    await store.putConfig(
      tenant,
      channelConfigName('email'),
      { from: FROM, to: [recipient], public_url: 'https://arx.example.com' },
      at,
    );
    await store.putConfig(
      tenant,
      channelConfigName('webhook'),
      { url: `${hook.url}/itsm`, public_url: 'https://arx.example.com' },
      at,
    );
    await store.putConfig(tenant, channelConfigName('slack'), { default_channel: '#access-reviews' }, at);
    await new SESv2Client({}).send(new CreateEmailIdentityCommand({ EmailIdentity: FROM }));
    await store.putSlackApprover({
      tenant_id: tenant,
      slack_user_id: 'UMANAGER1',
      team_id: 'T1',
      approver_sub: 'manager-sub',
      approver_email: 'manager@example.com',
      status: 'active',
      created_by: 'admin',
      created_at: at,
    });
    await store.putSlackApprover({
      tenant_id: tenant,
      slack_user_id: 'UOWNER1',
      team_id: 'T1',
      approver_sub: 'owner-sub',
      approver_email: 'owner@example.com',
      status: 'active',
      created_by: 'admin',
      created_at: at,
    });
    await store.putSlackApprover({
      tenant_id: tenant,
      slack_user_id: 'UPENDING1',
      approver_sub: 'other-sub',
      status: 'pending_confirmation',
      created_by: 'admin',
      created_at: at,
    });
  });
  afterAll(async () => {
    await slack?.close();
    await hook?.close();
  });

  function setup(channel: string, opts: { senders?: readonly string[] } = {}) {
    const store = new DynamoActionStore(table);
    const notifier = new ChannelNotifier({
      configs: store,
      secrets,
      clock: systemClock,
      log: silentLog,
      slackApiBase: slack.url,
      mailer,
      links: store,
      senders: () => opts.senders ?? [FROM],
      publicUrl: 'https://arx.example.com',
    });
    const h = harness({ store, secrets, notifier, clock: systemClock, configs: store });
    h.pdp.hitl = { ...h.pdp.hitl, channel };
    const callbacks = new ApprovalCallbacks({
      service: h.svc,
      store,
      secrets,
      replay: store,
      clock: systemClock,
      approvers: store,
      links: store,
      configs: store,
    });
    return { ...h, store, callbacks, notifier };
  }

  async function pending(
    h: ReturnType<typeof setup>,
    input: { connector: string; operation: string; params: Record<string, unknown>; reason?: string } = deactivate,
  ) {
    const out = await h.svc.submit(agent, input, trace);
    if (out.kind !== 'pending') throw new Error(`expected pending, got ${out.kind}`);
    return out;
  }

  function slackClick(value: string, user: string, team = 'T1') {
    const payload = {
      type: 'block_actions',
      user: { id: user, username: 'someone', team_id: team },
      actions: [{ action_id: 'arx_approve', value }],
    };
    const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const ts = String(Math.floor(Date.now() / 1000));
    return {
      raw,
      headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(signingSecret, ts, raw) },
    };
  }

  const lastSlackMessage = (approvalId: string) =>
    JSON.parse(
      slack.calls.filter((c) => c.path === '/chat.postMessage' && c.body.includes(approvalId)).at(-1)!.body,
    ) as {
      text: string;
      blocks: { type: string; text?: { text: string }; elements?: { value: string }[] }[];
    };
  const buttons = (approvalId: string) =>
    lastSlackMessage(approvalId).blocks.find((b) => b.type === 'actions')!.elements!;
  const mailLink = (m: MailMessage, label: string) =>
    new RegExp(`href="https://arx\\.example\\.com/v1/approvals/email/([A-Za-z0-9_.-]+)">${label}<`).exec(m.html)![1]!;

  // ------------------------------------------------------------------ F4

  it('F4: refuses a webhook decision for an approval routed to Slack, though signed with the tenant webhook secret', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h);
    // the attack: whoever holds the webhook secret names an approver and signs a decision
    const body = JSON.stringify({
      approval_id: approval.approval_id,
      decision: 'approve',
      approver: 'cfo@corp.example',
      reason: 'ok',
    });
    const e = await h.callbacks
      .webhook(body, { 'x-arx-signature': webhookSignatureHeader(webhookSecret, new Date(), body) }, parse)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect((e as Error).message).toMatch(/not sent to webhook/);
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F4: refuses an e-mail link with a valid MAC that ARX never sent (no nonce stored at send time)', async () => {
    const h = setup('email');
    const { approval } = await pending(h);
    const key = (await secrets.get(`arx/${tenant}/email`))!.link_key!;
    const exp = Math.floor(Date.now() / 1000) + 600;
    for (const r of ['cfo@corp.example', recipient]) {
      const forged = signLinkToken(key, {
        t: tenant,
        a: approval.approval_id,
        d: 'approve',
        r,
        exp,
        n: randomBytes(12).toString('base64url'),
      });
      await expect(h.callbacks.peekEmailLink(forged)).rejects.toBeInstanceOf(UnauthorizedError);
      await expect(h.callbacks.useEmailLink(forged)).rejects.toBeInstanceOf(UnauthorizedError);
    }
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
    // the link ARX did send still works, once
    const mail = sent.filter((m) => m.to === recipient && m.html.includes(approval.approval_id)).at(-1)!;
    expect((await h.callbacks.useEmailLink(mailLink(mail, 'Approve'))).action.status).toBe('executed');
  });

  it('F4: refuses a sent link once its recipient is no longer a configured approver of the e-mail channel', async () => {
    const h = setup('email');
    const { approval } = await pending(h);
    const mail = sent.filter((m) => m.to === recipient && m.html.includes(approval.approval_id)).at(-1)!;
    const at = new Date().toISOString();
    await h.store.putConfig(
      tenant,
      channelConfigName('email'),
      { from: FROM, to: ['someone-else@example.com'], public_url: 'https://arx.example.com' },
      at,
    );
    try {
      await expect(h.callbacks.useEmailLink(mailLink(mail, 'Approve'))).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      await h.store.putConfig(
        tenant,
        channelConfigName('email'),
        { from: FROM, to: [recipient], public_url: 'https://arx.example.com' },
        at,
      );
    }
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
  });

  it('F4: after the webhook secret is rotated, a decision signed with the old one is refused and the approval stays decidable in ARX', async () => {
    const h = setup('webhook');
    const { approval } = await pending(h);
    const old = (await secrets.get(`arx/${tenant}/webhook`))!.hmac_secret!;
    const rotated = newWebhookSecret();
    await secrets.put(`arx/${tenant}/webhook`, { hmac_secret: rotated });
    try {
      const body = JSON.stringify({
        approval_id: approval.approval_id,
        decision: 'approve',
        approver: 'cab@example.com',
        reason: 'ok',
      });
      await expect(
        h.callbacks.webhook(body, { 'x-arx-signature': webhookSignatureHeader(old, new Date(), body) }, parse),
      ).rejects.toBeInstanceOf(UnauthorizedError);
      expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
      expect((await h.svc.decide(tenant, approval.approval_id, manager, 'approve', 'ok')).action.status).toBe(
        'executed',
      );
    } finally {
      await secrets.put(`arx/${tenant}/webhook`, { hmac_secret: old });
    }
  });

  it('F4: after the e-mail link key is rotated, links already sent are refused', async () => {
    const h = setup('email');
    const { approval } = await pending(h);
    const mail = sent.filter((m) => m.to === recipient && m.html.includes(approval.approval_id)).at(-1)!;
    const old = (await secrets.get(`arx/${tenant}/email`))!;
    await secrets.put(`arx/${tenant}/email`, { link_key: newLinkKey() });
    try {
      await expect(h.callbacks.useEmailLink(mailLink(mail, 'Approve'))).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      await secrets.put(`arx/${tenant}/email`, old);
    }
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
  });

  it('F4: after the Slack signing secret changes, buttons minted with the old one decide nothing', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h);
    const value = buttons(approval.approval_id)[0]!.value;
    const old = (await secrets.get(`arx/${tenant}/slack`))!;
    const rotated = `sign-${randomBytes(8).toString('hex')}`;
    await secrets.put(`arx/${tenant}/slack`, { ...old, signing_secret: rotated });
    try {
      const payload = {
        type: 'block_actions',
        user: { id: 'UMANAGER1', team_id: 'T1' },
        actions: [{ action_id: 'arx_approve', value }],
      };
      const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      const ts = String(Math.floor(Date.now() / 1000));
      await expect(
        h.callbacks.slack(raw, {
          'x-slack-request-timestamp': ts,
          'x-slack-signature': slackSignature(rotated, ts, raw),
        }),
      ).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      await secrets.put(`arx/${tenant}/slack`, old);
    }
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  // ------------------------------------------------------------------ F10

  it('F10: refuses a click from a Slack user who is not mapped to an ARX approver, and says so', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h);
    const click = slackClick(buttons(approval.approval_id)[0]!.value, 'UGUEST42');
    const r = await h.callbacks.slack(click.raw, click.headers);
    expect(r.replace_original).toBe(false);
    expect(r.text).toMatch(/^Not recorded: your Slack account \(UGUEST42\) is not mapped to an ARX approver/);
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F10: refuses a mapping still awaiting the approver’s confirmation and a mapped user clicking from another workspace', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h);
    const value = buttons(approval.approval_id)[0]!.value;
    const unconfirmed = slackClick(value, 'UPENDING1');
    expect((await h.callbacks.slack(unconfirmed.raw, unconfirmed.headers)).text).toMatch(
      /awaits the approver’s confirmation/,
    );
    const otherTeam = slackClick(value, 'UMANAGER1', 'TOTHER');
    expect((await h.callbacks.slack(otherTeam.raw, otherTeam.headers)).text).toMatch(/not mapped/);
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    // the mapped approver decides, recorded under their ARX identity
    const ok = slackClick(value, 'UMANAGER1');
    expect((await h.callbacks.slack(ok.raw, ok.headers)).text).toMatch(/^Approved by manager@example\.com/);
    expect(await h.store.getApproval(tenant, approval.approval_id)).toMatchObject({
      status: 'approved',
      decided_by: 'manager@example.com',
      decided_via: 'slack',
    });
  });

  it('F10: the agent’s owner, mapped in Slack, cannot approve its own agent’s high-risk action', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h);
    const click = slackClick(buttons(approval.approval_id)[0]!.value, 'UOWNER1');
    const r = await h.callbacks.slack(click.raw, click.headers);
    expect(r.text).toMatch(/^Not recorded: separation of duties/);
    expect((await h.store.getApproval(tenant, approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  // ------------------------------------------------------------------ F11

  it('F11: Slack shows method and path first, says when params are cut, and escapes the agent’s reason', async () => {
    const h = setup('#access-reviews email webhook');
    const svc = new ActionService({ ...h.deps, connectors: new Map([['http', httpConnector]]) });
    h.pdp.table['http:request:post'] = { effect: 'permit', approval: 'hitl', risk: 'high' };
    // the review's spoof: 2.6 KB of benign text first, the path last, and a reason forging a bullet and a mention
    const spoofParams = { body: 'benign text '.repeat(220), path: '/v1/users/123' };
    const reason = 'Routine read\n• Risk: LOW <!channel> <https://evil.example|details>';
    const out = await svc.submit(
      agent,
      { connector: 'http', operation: 'request:post', params: spoofParams, reason },
      trace,
    );
    if (out.kind !== 'pending') throw new Error('expected pending');
    const { approval } = out;
    const msg = lastSlackMessage(approval.approval_id);
    const [summary, params] = msg.blocks.filter((b) => b.type === 'section').map((b) => b.text!.text);
    expect(summary!.split('\n').filter((l) => l.startsWith('• Risk'))).toHaveLength(1);
    expect(summary).toContain('Operation: http:request:post on /v1/users/123');
    expect(summary).toContain(
      'Reason (from the agent): Routine read • Risk: LOW &lt;!channel&gt; &lt;https://evil.example|details&gt;',
    );
    expect(summary).not.toContain('<!channel>');
    expect(params!.indexOf('"path"')).toBeLessThan(params!.indexOf('"body"'));
    expect(params).toContain(`${TRUNCATION_NOTE}: https://arx.example.com/v1/approvals/${approval.approval_id}`);
    expect(msg.blocks.every((b) => !b.text || b.text.text.length <= 3000)).toBe(true);
    // e-mail: HTML-escaped, the full canonical params
    const mail = sent.filter((m) => m.to === recipient && m.html.includes(approval.approval_id)).at(-1)!;
    expect(mail.html).toContain('&lt;!channel&gt;');
    expect(mail.html).not.toContain('<!channel>');
    expect(mail.html).toContain(spoofParams.body.trim());
    expect(mail.text).not.toContain('\n• Risk: LOW');
    // webhook: the full params in canonical order
    const payload = JSON.parse(hook.calls.filter((c) => c.body.includes(approval.approval_id)).at(-1)!.body) as {
      approval: { params: Record<string, unknown> };
    };
    expect(Object.keys(payload.approval.params)).toEqual(['path', 'body']);
    expect(payload.approval.params.body).toBe(spoofParams.body);
  });

  it('F11: a 2 000-character reason of "<" stays inert and within Slack limits, cut visibly', async () => {
    const h = setup('#access-reviews');
    const { approval } = await pending(h, { ...deactivate, reason: '<'.repeat(2000) });
    const summary = lastSlackMessage(approval.approval_id).blocks.filter((b) => b.type === 'section')[0]!.text!.text;
    expect(summary.length).toBeLessThanOrEqual(3000);
    expect(summary).not.toContain('<');
    expect(summary).toMatch(
      new RegExp(`${TRUNCATION_NOTE}: https://arx\\.example\\.com/v1/approvals/${approval.approval_id}$`),
    );
  });

  it('F11: an http DELETE is summarised with its method-level operation and path whatever order the agent sent', async () => {
    const h = setup('#access-reviews');
    const srv = await recordingServer(() => ({ status: 200, body: {} }));
    try {
      const svc = new ActionService({ ...h.deps, connectors: new Map([['http', httpConnector]]) });
      h.pdp.table['http:request:delete'] = { effect: 'permit', approval: 'hitl', risk: 'high' };
      const out = await svc.submit(
        agent,
        { connector: 'http', operation: 'request:delete', params: { query: { force: 'true' }, path: '/v1/users/123' } },
        trace,
      );
      if (out.kind !== 'pending') throw new Error('expected pending');
      const summary = lastSlackMessage(out.approval.approval_id).blocks.filter((b) => b.type === 'section')[0]!.text!
        .text;
      expect(summary).toContain('Operation: http:request:delete on /v1/users/123');
      expect(srv.calls).toHaveLength(0);
    } finally {
      await srv.close();
    }
  });

  // ------------------------------------------------------------------ F12a

  it('F12a: a secret bound to one origin is never sent to another base_url', async () => {
    const fake = fakeOkta('okta-bound');
    const good = await recordingServer((c) => fake.handler(c));
    const attacker = await recordingServer(() => ({ status: 200, body: [] }));
    try {
      const h = setup('#access-reviews');
      const svc = new ActionService({ ...h.deps, connectors: new Map([['okta', oktaConnector]]) });
      await secrets.put(
        connectorSecretName(tenant, 'okta'),
        bindSecret({ api_token: 'okta-bound' }, { base_url: good.url }),
      );
      expect((await secrets.get(connectorSecretName(tenant, 'okta')))![BOUND_ORIGIN]).toBe(new URL(good.url).origin);
      await h.store.putConfig(tenant, 'okta', { base_url: good.url }, new Date().toISOString());
      expect((await svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace)).kind).toBe(
        'executed',
      );
      // the origin changes without the secret (e.g. a config written around the API's 409)
      await h.store.putConfig(tenant, 'okta', { base_url: attacker.url }, new Date().toISOString());
      const out = await svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
      expect(out.action).toMatchObject({ status: 'failed', error: { code: 'secret_origin_mismatch' } });
      expect(attacker.calls).toHaveLength(0);
    } finally {
      await good.close();
      await attacker.close();
      await secrets.put(`arx/${tenant}/connectors/okta`, { api_token: 's3cr3t' });
    }
  });

  // ------------------------------------------------------------------ F22

  it('F22: refuses loopback, private, link-local and mapped addresses, literal or after DNS resolution', async () => {
    const srv = await recordingServer(() => ({ status: 200, body: { secret: 'runtime-api' } }));
    const port = new URL(srv.url).port;
    try {
      const strict = guardedFetch({ allowPrivate: false });
      for (const u of [
        srv.url,
        `http://localhost:${port}/`,
        `http://[::1]:${port}/`,
        `http://[::ffff:127.0.0.1]:${port}/`,
        'http://169.254.169.254/latest/meta-data',
        'http://10.0.0.8/',
        'http://192.168.1.1/',
      ]) {
        await expect(strict(u)).rejects.toBeInstanceOf(OutboundRefusedError);
      }
      // DNS rebinding: a public-looking name that resolves to loopback
      const rebinding = guardedFetch({
        allowPrivate: false,
        lookup: ((_h: string, _o: unknown, cb: (e: null, a: LookupAddress[]) => void) =>
          cb(null, [{ address: '127.0.0.1', family: 4 }])) as never,
      });
      await expect(rebinding(`http://tickets.example.com:${port}/`)).rejects.toBeInstanceOf(OutboundRefusedError);
      expect(srv.calls).toHaveLength(0);
      // locally (the emulator) loopback is allowed
      const local = guardedFetch({ allowPrivate: true });
      expect(await (await local(srv.url)).json()).toEqual({ secret: 'runtime-api' });
      expect(['8.8.8.8', '2606:4700:4700::1111'].map(isNonPublicAddress)).toEqual([false, false]);
      expect(['100.64.0.1', 'fd00::1', 'fe80::1', '0.0.0.0', 'not-an-ip'].map(isNonPublicAddress)).toEqual([
        true,
        true,
        true,
        true,
        true,
      ]);
    } finally {
      await srv.close();
    }
  });

  it('F22: never follows a redirect, even where loopback is allowed', async () => {
    const target = await recordingServer(() => ({ status: 200, body: {} }));
    const redirecting = createServer((_req, res) => {
      res.writeHead(302, { location: `${target.url}/internal` });
      res.end();
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(redirecting.address() as { port: number }).port}/`;
    try {
      await expect(guardedFetch({ allowPrivate: true })(url)).rejects.toThrow(/redirect/);
      expect(target.calls).toHaveLength(0);
    } finally {
      await new Promise<void>((r) => redirecting.close(() => r()));
      await target.close();
    }
  });

  it('F22: the http connector and the webhook notifier send nothing to a loopback target outside local mode', async () => {
    const srv = await recordingServer(() => ({ status: 200, body: {} }));
    try {
      const strict = guardedFetch({ allowPrivate: false });
      const ctx = {
        tenantId: tenant,
        agentId: 'agt_1',
        actionId: 'act_1',
        correlationId: 'c',
        traceparent: trace.traceparent,
        config: { base_url: srv.url },
        secret: async () => ({ token: 'tok' }),
        credentials: { awsCredentials: () => Promise.reject(new Error('none')) },
        fetch: strict,
      };
      await expect(httpConnector.execute(ctx, 'request:get', { path: '/' })).rejects.toMatchObject({
        code: 'unreachable',
      });
      const store = new DynamoActionStore(table);
      const notifier = new ChannelNotifier({
        configs: store,
        secrets,
        clock: systemClock,
        log: silentLog,
        fetch: strict,
        links: store,
        senders: () => [FROM],
      });
      const h = setup('webhook');
      const { approval } = await pending(h);
      const delivered = hook.calls.length;
      await expect(notifier.notify(approval)).rejects.toThrow();
      expect(hook.calls.length).toBe(delivered);
      expect(srv.calls).toHaveLength(0);
    } finally {
      await srv.close();
    }
  });

  // ------------------------------------------------------------------ F23

  it('F23: sends no approval mail from a sender outside the tenant’s SES allowlist', async () => {
    const h = setup('email', { senders: ['@tenant-b.example'] });
    const before = sent.length;
    await pending(h); // notification failures never block the request; the approval stays decidable in ARX
    expect(sent.length).toBe(before);
    expect(senderAllowed(['@acme.com'], 'arx@acme.com')).toBe(true);
    expect(senderAllowed(['@acme.com'], 'arx@evil-acme.com')).toBe(false);
    expect(senderAllowed(['arx@acme.com'], 'security@acme.com')).toBe(false);
    expect(senderAllowed([], 'arx@acme.com')).toBe(false);
  });
});
