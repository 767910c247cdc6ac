import { randomBytes } from 'node:crypto';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { z } from 'zod';
import type { Clock } from '../../shared/clock.js';
import {
  channelSecretName,
  type ApprovalNotifier,
  type ApprovalRecord,
  type ConnectorConfigStore,
  type Logger,
  type SecretStore,
} from '../core/model.js';
import { approvalView } from '../core/service.js';
import { buttonValue, signLinkToken, webhookSignatureHeader } from '../core/signing.js';

/** Channel settings stored by `PUT /v1/approvals/channels/{channel}` (config in the control table, secret in Secrets Manager). */
export const CHANNEL_SCHEMAS = {
  slack: {
    config: z.strictObject({ default_channel: z.string().min(1).max(80).optional() }),
    secret: z.strictObject({ bot_token: z.string().min(1).max(512), signing_secret: z.string().min(8).max(512) }),
  },
  email: {
    config: z.strictObject({
      from: z.email(),
      to: z.array(z.email()).min(1).max(50),
      /** Public base URL of the ARX API, for the approve/deny links. @default ARX_PUBLIC_API_URL */
      public_url: z.url({ protocol: /^https?$/ }).optional(),
      /** @default 3600 (capped by the approval deadline) */
      link_ttl_seconds: z.number().int().min(60).max(7 * 86400).optional(),
    }),
    secret: z.strictObject({ link_key: z.string().min(32).max(512) }).optional(),
  },
  webhook: {
    config: z.strictObject({ url: z.url({ protocol: /^https?$/ }), public_url: z.url({ protocol: /^https?$/ }).optional() }),
    secret: z.strictObject({ hmac_secret: z.string().min(16).max(512) }),
  },
} as const;
export type ChannelKind = keyof typeof CHANNEL_SCHEMAS;
export const channelConfigName = (kind: ChannelKind): string => `channel:${kind}`;

/** A fresh link-signing key when the admin gives none. */
export const newLinkKey = (): string => randomBytes(32).toString('base64url');

type Route = { kind: 'slack'; channel?: string } | { kind: 'email'; to?: string[] } | { kind: 'webhook' } | { kind: 'api' };

/** `#access-reviews` → Slack; `email` / `email:a@b.c` → SES; `webhook` → signed webhook; `api` → none. Space-separated for several. */
export function parseChannels(channel: string | undefined): Route[] {
  if (!channel) return [{ kind: 'api' }];
  return channel
    .split(/\s+/)
    .filter(Boolean)
    .map((c): Route => {
      if (c.startsWith('#')) return { kind: 'slack', channel: c };
      if (c.startsWith('slack:')) return { kind: 'slack', channel: c.slice(6) };
      if (c === 'slack') return { kind: 'slack' };
      if (c === 'email') return { kind: 'email' };
      if (c.startsWith('email:') || c.startsWith('mailto:')) return { kind: 'email', to: c.slice(c.indexOf(':') + 1).split(',') };
      if (c === 'webhook') return { kind: 'webhook' };
      return { kind: 'api' };
    });
}

function describe(a: ApprovalRecord): string[] {
  const target = (a.params.user_id ?? a.params.user_name ?? a.params.bucket ?? a.params.path) as string | undefined;
  return [
    `Agent: ${a.agent_name ?? a.agent_id} (${a.agent_id})`,
    `Operation: ${a.action}${target ? ` on ${String(target)}` : ''}`,
    `Risk: ${a.risk.toUpperCase()}${a.policy ? ` · policy ${a.policy}` : ''}`,
    ...(a.reason ? [`Reason: ${a.reason}`] : []),
    `Decide by: ${a.expires_at}`,
    `Correlation: ${a.correlation_id}`,
  ];
}

/** One e-mail as the approval channel composes it. */
export interface MailMessage {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Sends one e-mail (SES v2 in production and against moto). */
export interface Mailer {
  send(m: MailMessage): Promise<void>;
}

export class SesMailer implements Mailer {
  constructor(private readonly client: SESv2Client = new SESv2Client({})) {}
  async send(m: MailMessage): Promise<void> {
    await this.client.send(
      new SendEmailCommand({
        FromEmailAddress: m.from,
        Destination: { ToAddresses: [m.to] },
        Content: { Simple: { Subject: { Data: m.subject }, Body: { Text: { Data: m.text }, Html: { Data: m.html } } } },
      }),
    );
  }
}

export interface NotifierDeps {
  readonly configs: ConnectorConfigStore;
  readonly secrets: SecretStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  /** @default https://slack.com/api (ARX_SLACK_API_BASE) */
  readonly slackApiBase?: string;
  /** @default SesMailer */
  readonly mailer?: Mailer;
  /** Public base URL of the API (ARX_PUBLIC_API_URL), when a channel config names none. */
  readonly publicUrl?: string;
}

/**
 * Routes approval requests to the policy's `hitl_channel`: Slack (Block Kit with Approve/Deny
 * buttons through chat.postMessage), e-mail through SES v2 with one-time signed links, or a
 * HMAC-signed webhook. Failures are reported, never swallowed into a state change: the approval
 * stays pending and decidable through the API/CLI.
 */
export class ChannelNotifier implements ApprovalNotifier {
  private readonly fetch: typeof fetch;
  private mailer?: Mailer;
  constructor(private readonly d: NotifierDeps) {
    this.fetch = d.fetch ?? fetch;
  }

  async notify(a: ApprovalRecord): Promise<void> {
    const errors: unknown[] = [];
    for (const route of parseChannels(a.channel)) {
      try {
        if (route.kind === 'slack') await this.slack(a, route.channel);
        else if (route.kind === 'email') await this.email(a, route.to);
        else if (route.kind === 'webhook') await this.webhook(a, 'approval.requested');
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw new AggregateError(errors, `approval ${a.approval_id}: ${errors.length} channel(s) failed`);
  }

  async resolved(a: ApprovalRecord): Promise<void> {
    if (parseChannels(a.channel).some((r) => r.kind === 'webhook')) await this.webhook(a, 'approval.resolved');
  }

  private async slack(a: ApprovalRecord, channel: string | undefined): Promise<void> {
    const secret = CHANNEL_SCHEMAS.slack.secret.safeParse((await this.d.secrets.get(channelSecretName(a.tenant_id, 'slack'))) ?? {});
    if (!secret.success) throw new Error('slack channel not configured');
    const cfg = (await this.d.configs.getConfig(a.tenant_id, channelConfigName('slack'))) as { default_channel?: string } | null;
    const target = channel ?? cfg?.default_channel;
    if (!target) throw new Error('no slack channel to post to');
    const lines = describe(a);
    const message = {
      channel: target,
      text: `Approval needed: ${a.action} by ${a.agent_name ?? a.agent_id} (${a.risk})`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${a.action}` } },
        { type: 'section', text: { type: 'mrkdwn', text: lines.map((l) => `• ${l}`).join('\n') } },
        { type: 'section', text: { type: 'mrkdwn', text: '```' + JSON.stringify(a.params, null, 2).slice(0, 2500) + '```' } },
        {
          type: 'actions',
          block_id: `arx_approval`,
          elements: [
            { type: 'button', action_id: 'arx_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: buttonValue(secret.data.signing_secret, 'approve', a.approval_id) },
            { type: 'button', action_id: 'arx_deny', style: 'danger', text: { type: 'plain_text', text: 'Deny' }, value: buttonValue(secret.data.signing_secret, 'deny', a.approval_id) },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `ARX approval ${a.approval_id}` }] },
      ],
    };
    const base = (this.d.slackApiBase ?? 'https://slack.com/api').replace(/\/$/, '');
    const res = await this.fetch(`${base}/chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret.data.bot_token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(message),
    });
    const body = (await res.json().catch(() => ({}))) as { ok?: boolean; error?: string };
    if (!res.ok || !body.ok) throw new Error(`slack chat.postMessage failed: ${body.error ?? res.status}`);
  }

  private async email(a: ApprovalRecord, to: string[] | undefined): Promise<void> {
    const cfg = CHANNEL_SCHEMAS.email.config.safeParse((await this.d.configs.getConfig(a.tenant_id, channelConfigName('email'))) ?? {});
    if (!cfg.success) throw new Error('email channel not configured');
    const key = (await this.d.secrets.get(channelSecretName(a.tenant_id, 'email')))?.link_key;
    if (!key) throw new Error('email channel has no link key');
    const recipients = to?.length ? to : cfg.data.to;
    const now = this.d.clock.now();
    const exp = Math.min(Math.floor(Date.parse(a.expires_at) / 1000), Math.floor(now.getTime() / 1000) + (cfg.data.link_ttl_seconds ?? 3600));
    const publicUrl = cfg.data.public_url ?? this.d.publicUrl;
    if (!publicUrl) throw new Error('email channel has no public_url and ARX_PUBLIC_API_URL is unset');
    const base = publicUrl.replace(/\/$/, '');
    this.mailer ??= this.d.mailer ?? new SesMailer();
    for (const r of recipients) {
      const link = (d: 'approve' | 'deny') =>
        `${base}/v1/approvals/email/${signLinkToken(key, { t: a.tenant_id, a: a.approval_id, d, r, exp, n: randomBytes(12).toString('base64url') })}`;
      const lines = describe(a);
      const approve = link('approve');
      const deny = link('deny');
      await this.mailer.send({
        from: cfg.data.from,
        to: r,
        subject: `[ARX] Approval needed: ${a.action} (${a.risk})`,
        text: `${lines.join('\n')}\n\nApprove: ${approve}\nDeny: ${deny}\n\nEach link works once.`,
        html: `<p>${lines.map(escapeHtml).join('<br>')}</p><p><a href="${approve}">Approve</a> · <a href="${deny}">Deny</a></p><p>Each link works once.</p>`,
      });
    }
  }

  private async webhook(a: ApprovalRecord, type: 'approval.requested' | 'approval.resolved'): Promise<void> {
    const cfg = CHANNEL_SCHEMAS.webhook.config.safeParse((await this.d.configs.getConfig(a.tenant_id, channelConfigName('webhook'))) ?? {});
    const secret = (await this.d.secrets.get(channelSecretName(a.tenant_id, 'webhook')))?.hmac_secret;
    if (!cfg.success || !secret) throw new Error('webhook channel not configured');
    const body = JSON.stringify({
      type,
      approval: approvalView(a),
      ...((cfg.data.public_url ?? this.d.publicUrl) ? { decision_url: `${(cfg.data.public_url ?? this.d.publicUrl)!.replace(/\/$/, '')}/v1/approvals/webhook/callback` } : {}),
    });
    const res = await this.fetch(cfg.data.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-arx-signature': webhookSignatureHeader(secret, this.d.clock.now(), body), 'x-arx-event': type },
      body,
      redirect: 'error',
    });
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
