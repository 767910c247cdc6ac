import type { Clock } from '../../shared/clock.js';
import { ArxError, ConflictError, UnauthorizedError, ValidationError } from '../../shared/errors.js';
import { channelSecretName, type ActionStore, type ReplayGuard, type SecretStore } from './model.js';
import type { ActionService } from './service.js';
import { parseButtonValue, peekLinkToken, verifyButtonValue, verifyLinkToken, verifySlackSignature, verifyWebhookSignature } from './signing.js';

export interface CallbackDeps {
  readonly service: ActionService;
  readonly store: Pick<ActionStore, 'approvalTenant'>;
  readonly secrets: SecretStore;
  readonly replay: ReplayGuard;
  readonly clock: Clock;
  /** Looks up a Slack user's e-mail (users.info) for the approver identity; optional. */
  readonly slackEmail?: (tenantId: string, userId: string) => Promise<string | null>;
}

interface SlackPayload {
  type?: string;
  user?: { id?: string; username?: string; name?: string; team_id?: string };
  team?: { id?: string };
  actions?: { action_id?: string; value?: string }[];
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
  async slack(rawBody: string, headers: Readonly<Record<string, string>>): Promise<{ replace_original: boolean; text: string }> {
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
    if (!(await this.d.replay.useOnce(`slack:${tenantId}:${signature}`, new Date((Number(timestamp) + 600) * 1000)))) throw unauthorized();

    const userId = payload.user?.id;
    if (!userId) throw new ValidationError('the Slack payload names no user');
    const team = payload.user?.team_id ?? payload.team?.id ?? 'unknown';
    const email = this.d.slackEmail ? await this.d.slackEmail(tenantId, userId).catch(() => null) : null;
    const display = email ?? payload.user?.username ?? payload.user?.name ?? userId;
    try {
      const r = await this.d.service.decide(
        tenantId,
        button.approvalId,
        { id: `slack:${team}/${userId}`, display, principalType: 'human', ...(email ? { email } : {}), via: 'slack' },
        button.decision,
        button.decision === 'approve' ? 'approved in Slack' : 'denied in Slack',
      );
      const verb = button.decision === 'approve' ? 'Approved' : 'Denied';
      return { replace_original: true, text: `${verb} by ${display}: ${r.approval.action} (${r.approval.approval_id}) — action ${r.action.status}` };
    } catch (e) {
      // Slack shows any non-200 as a generic error; tell the approver what happened instead.
      if (e instanceof ArxError && e.status < 500) return { replace_original: false, text: `Not recorded: ${e.message}` };
      throw e;
    }
  }

  /** Verifies an e-mail link without using it (the confirmation page). */
  async peekEmailLink(token: string): Promise<{ tenantId: string; approvalId: string; decision: 'approve' | 'deny'; recipient: string }> {
    const claims = peekLinkToken(token);
    if (!claims) throw unauthorized();
    const key = (await this.d.secrets.get(channelSecretName(claims.t, 'email')))?.link_key;
    if (!key) throw unauthorized();
    const v = verifyLinkToken(key, token, this.d.clock.now());
    if (!v.ok) throw unauthorized();
    if ((await this.d.store.approvalTenant(claims.a)) !== claims.t) throw unauthorized();
    return { tenantId: claims.t, approvalId: claims.a, decision: claims.d, recipient: claims.r };
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
      { id: `email:${link.recipient}`, display: link.recipient, email: link.recipient, principalType: 'human', via: 'email' },
      link.decision,
      link.decision === 'approve' ? 'approved by e-mail link' : 'denied by e-mail link',
    );
  }

  /** `POST /v1/approvals/webhook/callback`: `x-arx-signature: t=…,v1=…` over `<t>.<body>`. */
  async webhook(rawBody: string, headers: Readonly<Record<string, string>>, parse: (body: unknown) => { approval_id: string; decision: 'approve' | 'deny'; approver: string; reason: string }) {
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
    if (!(await this.d.replay.useOnce(`webhook:${tenantId}:${check.v1}`, new Date((Number(check.t) + 600) * 1000)))) throw unauthorized();
    const email = /^[^@\s]+@[^@\s]+$/.test(body.approver) ? body.approver : undefined;
    return this.d.service.decide(
      tenantId,
      body.approval_id,
      { id: `webhook:${body.approver}`, display: body.approver, principalType: 'human', ...(email ? { email } : {}), via: 'webhook' },
      body.decision,
      body.reason,
    );
  }
}
