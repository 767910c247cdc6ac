import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Client } from '../../../lambdas/shared/aws.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { provisionTestStack } from '../../support/stack.js';
import { eventOf, harness, verify, webhookReceiver } from './support.js';

const tenant = `dest-${Math.random().toString(36).slice(2, 8)}`;
const admin: AuthContext = { tenantId: tenant, subject: 'alice', roles: ['admin'], principalType: 'human' };
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';

let h: ReturnType<typeof harness>;
let rx: Awaited<ReturnType<typeof webhookReceiver>>;
let env: Record<string, string>;

beforeAll(async () => {
  const stack = await provisionTestStack();
  env = { ...stack.env, ARX_STREAMING_RETRY_WINDOW_S: '2', ARX_STREAMING_RETRY_BASE_MS: '50' };
  // PagerDuty answers 202 Accepted; Slack's incoming webhooks 200
  rx = await webhookReceiver((path) => (path === '/v2/enqueue' ? 202 : 200));
  h = harness(env, {
    api: (await import('../../../lambdas/streaming/handlers/api.js')).handler as never,
    bus: (await import('../../../lambdas/streaming/handlers/bus-consumer.js')).handler as never,
    retry: (await import('../../../lambdas/streaming/handlers/retry.js')).handler as never,
  });
});
afterAll(async () => {
  await rx?.close();
});

const subscribe = async (body: Record<string, unknown>) => {
  const r = await h.api('POST /v1/subscriptions', admin, { body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { subscription_id: string; signing_secret: string; url: string | null };
};

describe('streaming to PagerDuty, Slack and the security lake', () => {
  it('pages PagerDuty (Events API v2) for terminations, drift and anchoring failures, with a dedup_key', async () => {
    const pd = await subscribe({
      kind: 'pagerduty',
      url: rx.url('/v2/enqueue'),
      routing_key: ROUTING_KEY,
      event_types: ['*'],
      format: 'arx',
    });
    expect(JSON.stringify(pd)).not.toContain(ROUTING_KEY);
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_9', reason: 'exfiltration' }));
    await h.publish('agent.drift', eventOf(tenant, { agent_id: 'agt_9', summary: 'new tools used' }));
    await h.publish('audit.block.sealed', eventOf(tenant, { block_id: 'blk_3', height: 3, anchored: false }));
    // an anchored block and an ordinary decision are not pages
    await h.publish('audit.block.sealed', eventOf(tenant, { block_id: 'blk_4', height: 4, anchored: true }));
    await h.publish('policy.decision', eventOf(tenant, { agent_id: 'agt_9', effect: 'forbid' }));
    const pages = rx.at('/v2/enqueue').map((r) => JSON.parse(r.body));
    expect(pages).toHaveLength(3);
    expect(pages.map((p) => p.payload.class)).toEqual(['agent.terminated', 'agent.drift', 'audit.anchoring.failed']);
    for (const p of pages) {
      expect(p).toMatchObject({ routing_key: ROUTING_KEY, event_action: 'trigger' });
      expect(p.payload).toMatchObject({ source: `arx/${tenant}`, timestamp: expect.any(String) });
      expect(['critical', 'error', 'warning', 'info']).toContain(p.payload.severity);
      expect(p.dedup_key.length).toBeLessThanOrEqual(255);
    }
    expect(pages[0].dedup_key).toBe(`arx/${tenant}/agent.terminated/agt_9`);
    expect(pages[0].payload.summary).toContain('agt_9 was terminated (exfiltration)');
    expect(pages[2]).toMatchObject({
      dedup_key: `arx/${tenant}/audit.anchoring.failed/chain`,
      payload: { severity: 'error' },
    });
    const d = await h.api('GET /v1/subscriptions/{id}/deliveries', admin, { params: { id: pd.subscription_id } });
    expect(d.body.items.map((x: { status: string; last_status: number }) => [x.status, x.last_status])).toEqual([
      ['delivered', 202],
      ['delivered', 202],
      ['delivered', 202],
    ]);
  });

  it('notifies Slack for the same events, and keeps the incoming-webhook URL (a credential) sealed', async () => {
    const hook = rx.url('/services/T000/B000/XXXXSECRET');
    const slack = await subscribe({ kind: 'slack', url: hook, event_types: ['agent.terminated'], format: 'arx' });
    expect(slack.url).toBe(`${new URL(hook).origin}/…`);
    const got = await h.api('GET /v1/subscriptions/{id}', admin, { params: { id: slack.subscription_id } });
    expect(JSON.stringify(got.body)).not.toContain('XXXXSECRET');
    await h.publish('agent.terminated', eventOf(tenant, { agent_id: 'agt_7', reason: 'owner left' }));
    const [msg] = rx.at('/services/T000/B000/XXXXSECRET');
    expect(JSON.parse(msg!.body)).toMatchObject({ text: expect.stringContaining('agent agt_7 was terminated') });
    verify(slack.signing_secret, msg!); // signed like every delivery
  });

  it('writes OCSF JSON Lines to the security-lake layout, partitioned by source, region, account, day and tenant', async () => {
    const lake = await subscribe({ kind: 's3', event_types: ['agent.terminated', 'policy.decision'], format: 'ocsf' });
    expect(lake.url).toBeNull();
    const e = eventOf(tenant, { agent_id: 'agt_8', initiated_by: 'alice@acme.com' });
    await h.publish('agent.terminated', e);
    await h.publish(
      'policy.decision',
      eventOf(tenant, { agent_id: 'agt_8', effect: 'permit', action: 'okta:users:read' }),
    );
    const s3 = s3Client();
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: env.ARX_ARTIFACT_BUCKET, Prefix: 'security-lake/ext/' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(`/tenant=${tenant}/`));
    expect(keys).toHaveLength(2);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    for (const k of keys)
      expect(k).toMatch(
        new RegExp(
          `^security-lake/ext/arx-(3001|6003)/region=[a-z0-9-]+/accountId=\\d{12}/eventDay=${day}/tenant=${tenant}/msg_[A-Za-z0-9_-]+\\.jsonl$`,
        ),
      );
    const term = keys.find((k) => k.includes('/arx-3001/'))!;
    const text = await (
      await s3.send(new GetObjectCommand({ Bucket: env.ARX_ARTIFACT_BUCKET, Key: term }))
    ).Body!.transformToString();
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      class_uid: 3001,
      activity_id: 5,
      type_uid: 300105,
      metadata: { version: '1.3.0', uid: e.event_id, tenant_uid: tenant },
      user: { uid: 'agt_8' },
      actor: { user: { name: 'alice@acme.com' } },
    });
  });

  it('sends OCSF to a webhook subscribed with format "ocsf"', async () => {
    const s = await subscribe({ kind: 'webhook', url: rx.url('/ocsf'), event_types: ['agent.drift'], format: 'ocsf' });
    await h.publish('agent.drift', eventOf(tenant, { agent_id: 'agt_1' }));
    const [r] = rx.at('/ocsf');
    expect(verify(s.signing_secret, r!)).toMatchObject({
      class_uid: 2004,
      finding_info: { title: expect.stringContaining('agt_1') },
    });
  });
});
