import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { ActionDenied, ArxClient } from '../../../sdk/index.js';
import { signLinkToken, slackSignature } from '../../../lambdas/actions/core/signing.js';
import { SecretsManagerStore } from '../../../lambdas/actions/adapters/secrets.js';
import { channelSecretName } from '../../../lambdas/actions/core/model.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from './support.js';
import { runDemo } from '../../../local/demo.js';
import { ACCESS_REVIEW_POLICY } from '../../support/fixtures.js';

// The brief's policy, its approvals routed to Slack and email both (the email leg is tested below).
const POLICY = ACCESS_REVIEW_POLICY.replace('hitl_channel: "#access-reviews"', 'hitl_channel: "#access-reviews email"');

/**
 * The integration brief's workflow over HTTP against the local runtime (real handlers, PDP,
 * audit sink, identity authorizer, moto), with a local Okta and a local Slack Web API.
 */
describe('Governed actions end to end (local runtime, moto, local Okta and Slack)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let approver: string;
  let owner: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let slack: Awaited<ReturnType<typeof recordingServer>>;
  let fake: ReturnType<typeof fakeOkta>;
  let arx: ArxClient;
  const signingSecret = `sig-${randomBytes(8).toString('hex')}`;
  const mailTo = `cab-${randomBytes(4).toString('hex')}@example.com`;

  beforeAll(async () => {
    fake = fakeOkta('okta-e2e-token');
    okta = await recordingServer((c) => fake.handler(c));
    slack = await recordingServer(() => ({ status: 200, body: { ok: true, channel: 'C1', ts: '1.1' } }));
    rt = await startTestRuntime({
      ARX_SLACK_API_BASE: slack.url,
      ARX_SES_SENDERS: JSON.stringify({ acme: ['arx-e2e@example.com'] }),
    });
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    approver = await rt.idp.token({ sub: 'mgr', tenant: 'acme', roles: ['approver'], email: 'manager@example.com' });
    owner = await rt.idp.token({ sub: 'owner-1', tenant: 'acme', roles: ['approver'] });

    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-e2e-token' } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call('PUT', '/v1/approvals/channels/slack', {
          token: admin,
          body: { config: {}, secret: { bot_token: 'xoxb-e2e', signing_secret: signingSecret } },
        })
      ).status,
    ).toBe(200);
    await new SESv2Client({}).send(new CreateEmailIdentityCommand({ EmailIdentity: 'arx-e2e@example.com' }));
    const mailCfg = await call('PUT', '/v1/approvals/channels/email', {
      token: admin,
      body: { config: { from: 'arx-e2e@example.com', to: [mailTo], public_url: rt.url } },
    });
    expect(mailCfg.json).toEqual({ channel: 'email', configured: true, secret_stored: true });
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY },
    });
    expect(pushed.status).toBe(201);
    expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
      200,
    );
    const reg = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `reviewer-${randomBytes(3).toString('hex')}`,
        name: 'access-reviewer',
        owner: { oidc_sub: 'owner-1', email: 'owner1@example.com' },
      },
    });
    expect(reg.status).toBe(201);
    arx = new ArxClient({ apiUrl: rt.url, bootstrapToken: reg.json.bootstrap_token, pollWaitS: 2 });
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
    await slack?.close();
  });

  const pendingApprovals = async () =>
    (await call('GET', '/v1/approvals?status=pending', { token: approver })).json.items as {
      approval_id: string;
      action_id: string;
      params: Record<string, unknown>;
    }[];

  it('reads users autonomously and never echoes the Okta token', async () => {
    const r = await arx.execute<{ body: { id: string }[] }>({
      connector: 'okta',
      operation: 'users:read',
      params: { filter: 'status eq "ACTIVE"' },
      correlationId: 'corr-review-1',
    });
    expect(r.result.body.map((u) => u.id)).toEqual(['00u1', '00u2', '00u3']);
    expect(r.approvalMetadata).toBeNull();
    expect(r.correlationId).toBe('corr-review-1');
    expect(r.decision).toMatchObject({ effect: 'permit', approval: 'none', risk: 'low' });
    expect(okta.calls.at(-1)!.headers.authorization).toBe('SSWS okta-e2e-token');
    expect(JSON.stringify(r)).not.toContain('okta-e2e-token');
  });

  it('holds a deactivation, posts it to Slack, and runs it only after a manager approves through the API', async () => {
    const before = okta.calls.length;
    const held: string[] = [];
    const running = arx.execute({
      connector: 'okta',
      operation: 'users:deactivate',
      params: { user_id: '00u3' },
      correlationId: 'corr-review-1',
      reason: 'no login for 90 days',
      onPending: (p) => held.push(p.approvalId),
    });
    const approvalId = await eventually(async () => held[0]);
    expect(okta.calls.length).toBe(before);
    const post = await eventually(async () =>
      slack.calls.find((c) => c.path === '/chat.postMessage' && c.body.includes(approvalId)),
    );
    expect(JSON.parse(post.body).channel).toBe('#access-reviews');

    // separation of duties: the agent's owner may not approve
    const byOwner = await call('POST', `/v1/approvals/${approvalId}/decision`, {
      token: owner,
      body: { decision: 'approve', reason: 'mine' },
    });
    expect(byOwner.status).toBe(403);
    const ok = await call('POST', `/v1/approvals/${approvalId}/decision`, {
      token: approver,
      body: { decision: 'approve', reason: 'Verified with HRIS' },
    });
    expect(ok.status).toBe(200);
    const r = await running;
    expect(r.approvalMetadata).toMatchObject({
      approval_id: approvalId,
      approver: 'manager@example.com',
      reason: 'Verified with HRIS',
      policy: 'okta-access-review',
    });
    expect(fake.users.get('00u3')!.status).toBe('DEPROVISIONED');
    const again = await call('POST', `/v1/approvals/${approvalId}/decision`, {
      token: approver,
      body: { decision: 'deny', reason: 'late' },
    });
    expect(again.status).toBe(409);
  });

  it('executes once when 50 approvals of one request race over HTTP', async () => {
    const before = okta.calls.filter((c) => c.path.endsWith('/lifecycle/suspend')).length;
    const submit = arx.execute({ connector: 'okta', operation: 'users:suspend', params: { user_id: '00u2' } });
    const approval = await eventually(async () => (await pendingApprovals()).find((a) => a.params.user_id === '00u2'));
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        call('POST', `/v1/approvals/${approval.approval_id}/decision`, {
          token: approver,
          body: { decision: 'approve', reason: 'race' },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(49);
    await submit;
    expect(okta.calls.filter((c) => c.path.endsWith('/lifecycle/suspend')).length - before).toBe(1);
  });

  it('turns a human deny into ActionDenied and runs nothing', async () => {
    const before = okta.calls.length;
    const submit = arx
      .execute({ connector: 'okta', operation: 'users:reset_password', params: { user_id: '00u1' } })
      .catch((e: unknown) => e);
    const approval = await eventually(async () => (await pendingApprovals()).find((a) => a.params.user_id === '00u1'));
    expect(
      (
        await call('POST', `/v1/approvals/${approval.approval_id}/decision`, {
          token: approver,
          body: { decision: 'deny', reason: 'no' },
        })
      ).status,
    ).toBe(200);
    const e = await submit;
    expect(e).toBeInstanceOf(ActionDenied);
    expect((e as ActionDenied).by).toBe('approver');
    expect(
      (
        await call('POST', `/v1/approvals/${approval.approval_id}/decision`, {
          token: approver,
          body: { decision: 'approve', reason: 'changed mind' },
        })
      ).status,
    ).toBe(409);
    expect(okta.calls.length).toBe(before);
  });

  it('refuses what the policy forbids (403), an unknown connector or operation (400) and a non-agent caller', async () => {
    await expect(arx.execute({ connector: 'okta', operation: 'users:list', params: {} })).rejects.toMatchObject({
      name: 'ActionDenied',
      by: 'policy',
    });
    const token = await arx.token();
    const unknownConnector = await call('POST', '/v1/actions', {
      token,
      body: { connector: 'jira', operation: 'issues:read', params: {} },
    });
    expect(unknownConnector.status).toBe(400);
    const unknownOp = await call('POST', '/v1/actions', {
      token,
      body: { connector: 'okta', operation: 'users:explode', params: {} },
    });
    expect(unknownOp.status).toBe(400);
    const extra = await call('POST', '/v1/actions', {
      token,
      body: { connector: 'okta', operation: 'users:read', params: {}, tenant_id: 'globex' },
    });
    expect(extra.status).toBe(400);
    const human = await call('POST', '/v1/actions', {
      token: admin,
      body: { connector: 'okta', operation: 'users:read', params: {} },
    });
    expect(human.status).toBe(403);
  });

  it('refuses forged, stale and replayed Slack callbacks over HTTP with 401', async () => {
    const submit = arx
      .execute({ connector: 'okta', operation: 'users:suspend', params: { user_id: '00u1' } })
      .catch((e: unknown) => e);
    const approval = await eventually(async () => (await pendingApprovals()).find((a) => a.params.user_id === '00u1'));
    const posted = await eventually(async () => slack.calls.find((c) => c.body.includes(approval.approval_id)));
    const msg = JSON.parse(posted.body) as { blocks: { type: string; elements?: { value: string }[] }[] };
    const value = msg.blocks.find((b) => b.type === 'actions')!.elements![1]!.value; // Deny
    // F10: the Slack user is mapped to the ARX approver `mgr`, who confirms the mapping
    expect(
      (
        await call('PUT', '/v1/approvals/channels/slack/approvers/U1', {
          token: admin,
          body: { approver_sub: 'mgr', team_id: 'T1' },
        })
      ).json.status,
    ).toBe('pending_confirmation');
    expect(
      (await call('POST', '/v1/approvals/channels/slack/approvers/U1/confirm', { token: approver })).json,
    ).toMatchObject({ status: 'active', approver_email: 'manager@example.com' });
    const raw = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'U1', username: 'secops' }, team: { id: 'T1' }, actions: [{ value }] }))}`;
    const now = String(Math.floor(Date.now() / 1000));
    const post = (headers: Record<string, string>) =>
      call('POST', '/v1/approvals/slack/interactions', {
        raw,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    expect(
      (await post({ 'x-slack-request-timestamp': now, 'x-slack-signature': slackSignature('wrong', now, raw) })).status,
    ).toBe(401);
    const old = String(Math.floor(Date.now() / 1000) - 600);
    expect(
      (await post({ 'x-slack-request-timestamp': old, 'x-slack-signature': slackSignature(signingSecret, old, raw) }))
        .status,
    ).toBe(401);
    const good = { 'x-slack-request-timestamp': now, 'x-slack-signature': slackSignature(signingSecret, now, raw) };
    const ok = await post(good);
    expect(ok.status).toBe(200);
    expect(ok.json.text).toMatch(/^Denied by manager@example\.com/);
    expect((await post(good)).status).toBe(401);
    expect(await submit).toBeInstanceOf(ActionDenied);
  });

  it('approves through a one-time e-mail link: GET only confirms, POST decides once', async () => {
    const submit = arx.execute({ connector: 'okta', operation: 'users:suspend', params: { user_id: 'jane@acme.com' } });
    const approval = await eventually(async () =>
      (await pendingApprovals()).find((a) => a.params.user_id === 'jane@acme.com'),
    );
    // SES delivery itself is covered against moto in channels.test.ts; here the link is re-minted
    // from what the notifier recorded at send time (nonce, recipient, expiry) and the tenant's link key.
    const key = (await new SecretsManagerStore().get(channelSecretName('acme', 'email')))!.link_key!;
    // a link with a valid MAC that ARX never sent decides nothing (F4)
    const forged = signLinkToken(key, {
      t: 'acme',
      a: approval.approval_id,
      d: 'approve',
      r: mailTo,
      exp: Math.floor(Date.now() / 1000) + 600,
      n: randomBytes(9).toString('base64url'),
    });
    expect((await call('GET', `/v1/approvals/email/${forged}`)).status).toBe(401);
    expect((await call('POST', `/v1/approvals/email/${forged}`, { raw: '' })).status).toBe(401);
    const links = await eventually(async () => {
      const r = await documentClient().send(
        new ScanCommand({
          TableName: rt.env.ARX_CONTROL_TABLE!,
          FilterExpression: 'approval_id = :a AND sk = :s',
          ExpressionAttributeValues: { ':a': approval.approval_id, ':s': 'LINK' },
        }),
      );
      return (r.Items ?? []).length ? r.Items! : undefined;
    });
    const sent = links.find((l) => l.decision === 'approve')!;
    const token = signLinkToken(key, {
      t: 'acme',
      a: approval.approval_id,
      d: 'approve',
      r: String(sent.recipient),
      exp: Number(sent.exp),
      n: String(sent.nonce),
    });
    const path = `/v1/approvals/email/${token}`;
    const page = await call('GET', path);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<form method="post">');
    expect((await call('GET', `/v1/approvals/${approval.approval_id}`, { token: approver })).json.status).toBe(
      'pending',
    );
    const used = await call('POST', path, { raw: '' });
    expect(used.status).toBe(200);
    expect(used.text).toContain('Approved');
    expect((await call('POST', path, { raw: '' })).status).toBe(409);
    expect((await call('POST', `${path.slice(0, -3)}AAA`, { raw: '' })).status).toBe(401);
    expect((await call('GET', `/v1/approvals/${approval.approval_id}`, { token: approver })).json).toMatchObject({
      status: 'approved',
      decided_by: mailTo,
      decided_via: 'email',
    });
    expect((await submit).approvalMetadata).toMatchObject({ approver: mailTo, channel: 'email' });
  });

  it('reports approval and denial rates with time-to-decision per policy and approver', async () => {
    const s = await call('GET', '/v1/approvals/stats', { token: approver });
    expect(s.status).toBe(200);
    expect(s.json.approved).toBeGreaterThanOrEqual(2);
    expect(s.json.denied).toBeGreaterThanOrEqual(2);
    expect(s.json.by_policy['okta-access-review'].approved).toBeGreaterThanOrEqual(2);
    expect(s.json.by_approver['manager@example.com'].approved).toBeGreaterThanOrEqual(2);
    expect(s.json.time_to_decision.p50).toMatch(/s$/);
  });

  it('an agent only reads its own actions; an auditor reads any; unknown ids are 404', async () => {
    const r = await arx.execute({ connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } });
    const auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    expect((await call('GET', `/v1/actions/${r.actionId}`, { token: auditor })).json.status).toBe('executed');
    const other = await rt.idp.token({ sub: 'bob', tenant: 'globex', roles: ['auditor'] });
    expect((await call('GET', `/v1/actions/${r.actionId}`, { token: other })).status).toBe(404);
    expect((await call('GET', '/v1/actions/act_nope', { token: await arx.token() })).status).toBe(404);
  });

  it("runs `npm run demo`'s access review: 3 actions, 2 autonomous, 1 approved", async () => {
    const lines: string[] = [];
    const auditor = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
    const summary = await runDemo({ apiUrl: rt.url, tenantId: 'acme', tokens: { admin, approver, auditor } }, (l) =>
      lines.push(l),
    );
    expect(summary).toBe('3 actions: 2 autonomous, 1 approved');
    const text = lines.join('\n');
    expect(text).toContain('"approver": "manager@example.com"');
    expect(text).toContain('"policy": "okta-access-review"');
    expect(text).toMatch(/approved in \d+\.\d s/);
    expect(text).toContain('Okta status now DEPROVISIONED');
  }, 90_000);
});
