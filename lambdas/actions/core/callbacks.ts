import type { Clock } from '../../shared/clock.js';
import { ArxError, ConflictError, UnauthorizedError, ValidationError } from '../../shared/errors.js';
import { parseChannels } from './channels.js';
import {
  channelSecretName,
  type ActionStore,
  type ConnectorConfigStore,
  type EmailLinkStore,
  type ReplayGuard,
  type SecretStore,
  type SlackApproverStore,
} from './model.js';
import type { ActionService } from './service.js';
import {
  parseButtonValue,
  peekLinkToken,
  verifyButtonValue,
  verifyLinkToken,
  verifySlackSignature,
  verifyWebhookSignature,
} from './signing.js';

export interface CallbackDeps {
  readonly service: ActionService;
  readonly store: Pick<ActionStore, 'approvalTenant'>;
  readonly secrets: SecretStore;
  readonly replay: ReplayGuard;
  readonly clock: Clock;
  /** Slack user → ARX approver mappings (F10). */
  readonly approvers: SlackApproverStore;
  /** E-mail links as sent (F4). */
  readonly links: EmailLinkStore;
  /** Channel configs (the e-mail channel's configured recipients). */
  readonly configs: ConnectorConfigStore;
}

interface SlackPayload {
  type?: string;
  user?: { id?: string; username?: string; name?: string; team_id?: string };
  team?: { id?: string };
  actions?: { action_id?: string; value?: string }[];
}

/** `local@domain` with one `@` and no whitespace, checked without a regex (F3: linear on any input). */
export function looksLikeEmail(s: string): boolean {
  if (s.length > 320) return false;
  const at = s.indexOf('@');
  if (at <= 0 || at === s.length - 1 || s.indexOf('@', at + 1) !== -1) return false;
  for (const ch of s) if (ch.trim() === '') return false;
  return true;
}

const unauthorized = () => new UnauthorizedError('the callback could not be authenticated');

/**
 * Approval callbacks that authenticate by signature instead of a bearer token: Slack
 * interactivity (v0 signature, 300 s, replay refused), one-time e-mail links and signed
 * webhooks. The tenant always comes from ARX's own approval record (found by the id inside a
 * value ARX minted), and the signature is checked with that tenant's secret before anything changes.
 */
export class ApprovalCallbacks {
  constructor(private readonly d: CallbackDeps) {}

  /** `POST /v1/approvals/slack/interactions`. Returns the message Slack shows in place of the buttons. */
  async slack(
    rawBody: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<{ replace_original: boolean; text: string }> {
    let payload: SlackPayload;
    try {
      payload = JSON.parse(new URLSearchParams(rawBody).get('payload') ?? '') as SlackPayload;
    } catch {
      throw unauthorized();
    }
    if (!payload || typeof payload !== 'object') throw unauthorized(); // payload=null or a scalar
    const value = payload.actions?.[0]?.value;
    const button = parseButtonValue(value);
    if (!button) throw unauthorized();
    const tenantId = await this.d.store.approvalTenant(button.approvalId);
    if (!tenantId) throw unauthorized();
    const secret = (await this.d.secrets.get(channelSecretName(tenantId, 'slack')))?.signing_secret;
    if (!secret) throw unauthorized();
    const now = this.d.clock.now();
    const timestamp = headers['x-slack-request-timestamp'];
    const signature = headers['x-slack-signature'];
    const check = verifySlackSignature({ signingSecret: secret, timestamp, signature, rawBody, now });
    if (!check.ok) throw unauthorized();
    if (!verifyButtonValue(secret, value!)) throw unauthorized();
    if (!(await this.d.replay.useOnce(`slack:${tenantId}:${signature}`, new Date((Number(timestamp) + 600) * 1000))))
      throw unauthorized();

    const userId = payload.user?.id;
    if (!userId) throw new ValidationError('the Slack payload names no user');
    const team = payload.user?.team_id ?? payload.team?.id;
    // F10: only a Slack user mapped to (and confirmed by) an ARX approver decides; anyone else who can click is refused.
    const mapping = /^[A-Z0-9]{1,32}$/.test(userId) ? await this.d.approvers.getSlackApprover(tenantId, userId) : null;
    if (mapping?.status !== 'active' || (mapping.team_id && mapping.team_id !== team)) {
      return {
        replace_original: false,
        text: `Not recorded: your Slack account (${userId}) is not mapped to an ARX approver${mapping && mapping.status !== 'active' ? ' (the mapping awaits the approver’s confirmation)' : ''}. Ask an ARX admin to map it, or decide in ARX.`,
      };
    }
    const email = mapping.approver_email;
    const display = email ?? mapping.approver_sub;
    try {
      const r = await this.d.service.decide(
        tenantId,
        button.approvalId,
        { id: mapping.approver_sub, display, principalType: 'human', ...(email ? { email } : {}), via: 'slack' },
        button.decision,
        button.decision === 'approve' ? 'approved in Slack' : 'denied in Slack',
      );
      const verb = button.decision === 'approve' ? 'Approved' : 'Denied';
      return {
        replace_original: true,
        text: `${verb} by ${display}: ${r.approval.action} (${r.approval.approval_id}) — action ${r.action.status}`,
      };
    } catch (e) {
      // Slack shows any non-200 as a generic error; tell the approver what happened instead.
      if (e instanceof ArxError && e.status < 500)
        return { replace_original: false, text: `Not recorded: ${e.message}` };
      throw e;
    }
  }

  /** Verifies an e-mail link without using it (the confirmation page). */
  async peekEmailLink(
    token: string,
  ): Promise<{ tenantId: string; approvalId: string; decision: 'approve' | 'deny'; recipient: string }> {
    const claims = peekLinkToken(token);
    if (!claims) throw unauthorized();
    const key = (await this.d.secrets.get(channelSecretName(claims.t, 'email')))?.link_key;
    if (!key) throw unauthorized();
    const v = verifyLinkToken(key, token, this.d.clock.now());
    if (!v.ok) throw unauthorized();
    if ((await this.d.store.approvalTenant(claims.a)) !== claims.t) throw unauthorized();
    // F4: the link must be one ARX sent (its nonce stored at send time, same approval, decision and
    // recipient), and its recipient must still be a configured approver of the e-mail channel.
    const sent = /^[A-Za-z0-9_-]{8,64}$/.test(claims.n) ? await this.d.links.getEmailLink(claims.t, claims.n) : null;
    if (
      !sent ||
      sent.approval_id !== claims.a ||
      sent.decision !== claims.d ||
      sent.recipient !== claims.r ||
      sent.exp !== claims.exp
    )
      throw unauthorized();
    if (!(await this.configuredRecipients(claims.t, claims.a)).has(claims.r.toLowerCase())) throw unauthorized();
    return { tenantId: claims.t, approvalId: claims.a, decision: claims.d, recipient: claims.r };
  }

  /** The e-mail channel's recipients plus the addresses the approval's route names (`email:a@b.c`). */
  private async configuredRecipients(tenantId: string, approvalId: string): Promise<Set<string>> {
    const cfg = (await this.d.configs.getConfig(tenantId, 'channel:email')) as { to?: unknown } | null;
    const out = new Set<string>(
      Array.isArray(cfg?.to)
        ? cfg.to.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase())
        : [],
    );
    const approval = await this.d.service.getApproval(tenantId, approvalId).catch(() => null);
    for (const r of parseChannels(approval?.channel))
      if (r.kind === 'email') for (const to of r.to ?? []) out.add(to.toLowerCase());
    return out;
  }

  /** `POST /v1/approvals/email/{token}`: one use per link. */
  async useEmailLink(token: string) {
    const link = await this.peekEmailLink(token);
    const claims = peekLinkToken(token)!;
    if (!(await this.d.replay.useOnce(`email:${claims.t}:${claims.n}`, new Date(claims.exp * 1000 + 60_000)))) {
      throw new ConflictError('this link has already been used');
    }
    return this.d.service.decide(
      link.tenantId,
      link.approvalId,
      {
        id: `email:${link.recipient}`,
        display: link.recipient,
        email: link.recipient,
        principalType: 'human',
        via: 'email',
      },
      link.decision,
      link.decision === 'approve' ? 'approved by e-mail link' : 'denied by e-mail link',
    );
  }

  /** `POST /v1/approvals/webhook/callback`: `x-arx-signature: t=…,v1=…` over `<t>.<body>`. */
  async webhook(
    rawBody: string,
    headers: Readonly<Record<string, string>>,
    parse: (body: unknown) => { approval_id: string; decision: 'approve' | 'deny'; approver: string; reason: string },
  ) {
    let body: ReturnType<typeof parse>;
    try {
      body = parse(JSON.parse(rawBody));
    } catch {
      throw unauthorized();
    }
    const tenantId = await this.d.store.approvalTenant(body.approval_id);
    if (!tenantId) throw unauthorized();
    const secret = (await this.d.secrets.get(channelSecretName(tenantId, 'webhook')))?.hmac_secret;
    if (!secret) throw unauthorized();
    const check = verifyWebhookSignature(secret, headers['x-arx-signature'], rawBody, this.d.clock.now());
    if (!check.ok) throw unauthorized();
    if (!(await this.d.replay.useOnce(`webhook:${tenantId}:${check.v1}`, new Date((Number(check.t) + 600) * 1000))))
      throw unauthorized();
    const email = looksLikeEmail(body.approver) ? body.approver : undefined;
    return this.d.service.decide(
      tenantId,
      body.approval_id,
      {
        id: `webhook:${body.approver}`,
        display: body.approver,
        principalType: 'human',
        ...(email ? { email } : {}),
        via: 'webhook',
      },
      body.decision,
      body.reason,
    );
  }
}
