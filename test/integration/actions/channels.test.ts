import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import {
  ChannelNotifier,
  SesMailer,
  channelConfigName,
  newLinkKey,
  type MailMessage,
  type Mailer,
} from '../../../lambdas/actions/adapters/notifiers.js';
import { SecretsManagerStore } from '../../../lambdas/actions/adapters/secrets.js';
import { ApprovalCallbacks } from '../../../lambdas/actions/core/callbacks.js';
import {
  slackSignature,
  webhookSignatureHeader,
  verifyWebhookSignature,
} from '../../../lambdas/actions/core/signing.js';
import { ConflictError, UnauthorizedError } from '../../../lambdas/shared/errors.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { WebhookDecisionBody } from '../../../lambdas/actions/schemas.js';
import { createControlTable, recordingServer } from './support.js';
import { agent as baseAgent, harness, silentLog, trace } from '../../unit/actions/fakes.js';

const tenant = `t-${randomBytes(4).toString('hex')}`;
const agent = { ...baseAgent, tenantId: tenant };
const deactivate = {
  connector: 'okta',
  operation: 'users:deactivate',
  params: { user_id: 'john@acme.com' },
  correlation_id: 'uuid-12345',
};
const signingSecret = `sign-${randomBytes(8).toString('hex')}`;
const ses = new SesMailer();
const sent: MailMessage[] = [];
const recordingMailer: Mailer = {
  async send(m) {
    await ses.send(m); // SendEmail against moto must succeed first
    sent.push(m);
  },
};

describe('Approval channels (Slack, SES e-mail, webhook) against moto and loopback servers', () => {
  let table: string;
  let slack: Awaited<ReturnType<typeof recordingServer>>;
  let hook: Awaited<ReturnType<typeof recordingServer>>;
  const secrets = new SecretsManagerStore();
  const recipient = `mgr-${randomBytes(4).toString('hex')}@example.com`;

  beforeAll(async () => {
    table = await createControlTable('actions-channels');
    slack = await recordingServer((c) =>
      c.path.startsWith('/users.info')
        ? { status: 200, body: { ok: true, user: { id: 'U2CERLKJA', profile: { email: 'manager@example.com' } } } }
        : { status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } },
    );
    hook = await recordingServer(() => ({ status: 204 }));
    await secrets.put(`arx/${tenant}/slack`, { bot_token: 'xoxb-test', signing_secret: signingSecret });
    await secrets.put(`arx/${tenant}/email`, { link_key: newLinkKey() });
    await secrets.put(`arx/${tenant}/webhook`, { hmac_secret: 'whsec-0123456789abcdef' });
    await secrets.put(`arx/${tenant}/connectors/okta`, { api_token: 's3cr3t' });
    const store = new DynamoActionStore(table);
    await store.putConfig(
      tenant,
      channelConfigName('email'),
      { from: 'arx@example.com', to: [recipient], public_url: 'https://arx.example.com' },
      new Date().toISOString(),
    );
    await store.putConfig(
      tenant,
      channelConfigName('webhook'),
      { url: `${hook.url}/itsm`, public_url: 'https://arx.example.com' },
      new Date().toISOString(),
    );
    await new SESv2Client({}).send(new CreateEmailIdentityCommand({ EmailIdentity: 'arx@example.com' }));
    await store.putSlackApprover({
      tenant_id: tenant,
      slack_user_id: 'U2CERLKJA',
      team_id: 'T1DC2JH3J',
      approver_sub: 'manager-sub',
      approver_email: 'manager@example.com',
      status: 'active',
      created_by: 'admin',
      created_at: new Date().toISOString(),
    });
  });
  afterAll(async () => {
    await slack?.close();
    await hook?.close();
  });

  function setup(channel: string) {
    const store = new DynamoActionStore(table);
    const notifier = new ChannelNotifier({
      configs: store,
      secrets,
      clock: systemClock,
      log: silentLog,
      slackApiBase: slack.url,
      mailer: recordingMailer,
      links: store,
      senders: () => ['arx@example.com'],
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
    return { ...h, store, callbacks };
  }

  async function pending(h: ReturnType<typeof setup>) {
    const out = await h.svc.submit(agent, deactivate, trace);
    if (out.kind !== 'pending') throw new Error('expected pending');
    return out;
  }

  function slackRequest(value: string, at = Math.floor(Date.now() / 1000), secret = signingSecret) {
    const payload = {
      type: 'block_actions',
      user: { id: 'U2CERLKJA', username: 'roadrunner', team_id: 'T1DC2JH3J' },
      actions: [{ action_id: 'arx_approve', value }],
    };
    const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const ts = String(at);
    return { raw, headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(secret, ts, raw) } };
  }

  it('posts a Block Kit message with Approve/Deny to the policy channel and executes on a signed Slack approval', async () => {
    const h = setup('#access-reviews');
    const out = await pending(h);
    const post = slack.calls.filter((c) => c.path === '/chat.postMessage').at(-1)!;
    expect(post.headers.authorization).toBe('Bearer xoxb-test');
    const msg = JSON.parse(post.body) as {
      channel: string;
      blocks: { type: string; elements?: { action_id: string; value: string }[] }[];
    };
    expect(msg.channel).toBe('#access-reviews');
    const buttons = msg.blocks.find((b) => b.type === 'actions')!.elements!;
    expect(buttons.map((b) => b.action_id)).toEqual(['arx_approve', 'arx_deny']);
    expect(JSON.stringify(msg.blocks)).toContain('john@acme.com');

    const req = slackRequest(buttons[0]!.value);
    const res = await h.callbacks.slack(req.raw, req.headers);
    expect(res.text).toMatch(/^Approved by manager@example.com/);
    const action = await h.store.getAction(tenant, out.action.action_id);
    expect(action).toMatchObject({
      status: 'executed',
      approval_metadata: { approver: 'manager@example.com', channel: 'slack' },
    });
    expect(h.okta.calls).toHaveLength(1);

    // the same signed request again is a replay
    await expect(h.callbacks.slack(req.raw, req.headers)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses forged, stale and tampered Slack callbacks with 401 and changes nothing', async () => {
    const h = setup('#access-reviews');
    const out = await pending(h);
    const msg = JSON.parse(slack.calls.filter((c) => c.path === '/chat.postMessage').at(-1)!.body) as {
      blocks: { type: string; elements?: { value: string }[] }[];
    };
    const approveValue = msg.blocks.find((b) => b.type === 'actions')!.elements![0]!.value;
    const forged = slackRequest(approveValue, undefined, 'not-the-secret');
    await expect(h.callbacks.slack(forged.raw, forged.headers)).rejects.toBeInstanceOf(UnauthorizedError);
    const stale = slackRequest(approveValue, Math.floor(Date.now() / 1000) - 301);
    await expect(h.callbacks.slack(stale.raw, stale.headers)).rejects.toBeInstanceOf(UnauthorizedError);
    // a button value ARX did not mint (decision flipped) is refused even with a valid Slack signature
    const flipped = slackRequest(approveValue.replace(/^approve:/, 'deny:'));
    await expect(h.callbacks.slack(flipped.raw, flipped.headers)).rejects.toBeInstanceOf(UnauthorizedError);
    const unknown = slackRequest(`approve:apr_NOPE:${'A'.repeat(22)}`);
    await expect(h.callbacks.slack(unknown.raw, unknown.headers)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(h.callbacks.slack('payload=%7Bnot-json', {})).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await h.store.getApproval(tenant, out.approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('e-mails one-time signed approve/deny links through SES; a link works once', async () => {
    const h = setup('email');
    const out = await pending(h);
    // what SES (moto) accepted, recorded on the way through the real SES mailer
    const body = sent.filter((m) => m.to === recipient).at(-1)!.html;
    const link = (label: string) =>
      new RegExp(`href="https://arx\\.example\\.com/v1/approvals/email/([A-Za-z0-9_.-]+)">${label}<`).exec(body)![1]!;
    const approve = link('Approve');
    const deny = link('Deny');
    expect(body).toContain('okta:users:deactivate');

    const peek = await h.callbacks.peekEmailLink(approve);
    expect(peek).toMatchObject({
      tenantId: tenant,
      approvalId: out.approval.approval_id,
      decision: 'approve',
      recipient,
    });
    expect((await h.store.getApproval(tenant, out.approval.approval_id))!.status).toBe('pending');

    const r = await h.callbacks.useEmailLink(approve);
    expect(r.action).toMatchObject({
      status: 'executed',
      approval_metadata: { approver: recipient, channel: 'email' },
    });
    await expect(h.callbacks.useEmailLink(approve)).rejects.toBeInstanceOf(ConflictError);
    await expect(h.callbacks.useEmailLink(deny)).rejects.toBeInstanceOf(ConflictError);
    await expect(h.callbacks.useEmailLink(`${approve.slice(0, -2)}xx`)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(h.okta.calls).toHaveLength(1);
  });

  it('sends a HMAC-signed webhook and accepts only a signed, fresh, unreplayed decision callback', async () => {
    const h = setup('webhook');
    const out = await pending(h);
    const sent = hook.calls.at(-1)!;
    expect(sent.path).toBe('/itsm');
    expect(
      verifyWebhookSignature('whsec-0123456789abcdef', sent.headers['x-arx-signature'], sent.body, new Date()).ok,
    ).toBe(true);
    expect(JSON.parse(sent.body)).toMatchObject({
      type: 'approval.requested',
      approval: { approval_id: out.approval.approval_id },
      decision_url: 'https://arx.example.com/v1/approvals/webhook/callback',
    });

    const parse = (b: unknown) => WebhookDecisionBody.parse(b);
    const body = JSON.stringify({
      approval_id: out.approval.approval_id,
      decision: 'deny',
      approver: 'cab@example.com',
      reason: 'change freeze',
    });
    await expect(
      h.callbacks.webhook(
        body,
        { 'x-arx-signature': webhookSignatureHeader('wrong-secret-000000', new Date(), body) },
        parse,
      ),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(
      h.callbacks.webhook(
        body,
        { 'x-arx-signature': webhookSignatureHeader('whsec-0123456789abcdef', new Date(Date.now() - 400_000), body) },
        parse,
      ),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    const headers = { 'x-arx-signature': webhookSignatureHeader('whsec-0123456789abcdef', new Date(), body) };
    const r = await h.callbacks.webhook(body, headers, parse);
    expect(r.approval).toMatchObject({ status: 'denied', decided_by: 'cab@example.com', decided_via: 'webhook' });
    await expect(h.callbacks.webhook(body, headers, parse)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(h.okta.calls).toHaveLength(0);
    expect(JSON.parse(hook.calls.at(-1)!.body)).toMatchObject({
      type: 'approval.resolved',
      approval: { status: 'denied' },
    });
  });
});
