import { ArxError } from '../../shared/errors.js';
import { createApiHandler, validate, type ApiRequest } from '../../shared/http.js';
import { routesOf } from '../../topology.js';
import { ACTIONS_SETTINGS, actionsDeps } from '../adapters/deps.js';
import { handlerSettings } from '../../shared/settings.js';
import { escapeHtml, paramsText, singleLine } from '../core/present.js';
import { actionView, approvalView } from '../core/service.js';
import { WebhookDecisionBody } from '../schemas.js';

const html = (status: number, title: string, body: string) => ({
  status,
  raw: true,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  },
  body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto"><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
});

async function page(fn: () => Promise<ReturnType<typeof html>>) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ArxError && e.status < 500) return html(e.status, e.title, `<p>${escapeHtml(e.message)}</p>`);
    throw e;
  }
}

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(ACTIONS_SETTINGS, ['ARX_TRACES_TABLE']);

export const handler = createApiHandler(routesOf('actions-callbacks'), {
  'POST /v1/approvals/slack/interactions': async (req: ApiRequest) => {
    const body = await actionsDeps().callbacks.slack(req.rawBody, req.headers);
    return { status: 200, body };
  },

  'POST /v1/approvals/webhook/callback': async (req: ApiRequest) => {
    const r = await actionsDeps().callbacks.webhook(req.rawBody, req.headers, (b) =>
      validate(WebhookDecisionBody, b, 'webhook body'),
    );
    return { status: 200, body: { approval: approvalView(r.approval), action: actionView(r.action) } };
  },

  // Mail scanners fetch links: GET only shows a confirmation form, POST decides.
  'GET /v1/approvals/email/{token}': async (req) =>
    page(async () => {
      const { callbacks, service } = actionsDeps();
      const link = await callbacks.peekEmailLink(req.params.token!);
      const a = await service.getApproval(link.tenantId, link.approvalId);
      const verb = link.decision === 'approve' ? 'Approve' : 'Deny';
      return html(
        200,
        `${verb} ${a.action}?`,
        `<p>Agent ${escapeHtml(singleLine(a.agent_name ?? a.agent_id))} · risk ${escapeHtml(a.risk)} · status ${escapeHtml(a.status)}</p>` +
          (a.reason ? `<p>Reason (from the agent): ${escapeHtml(singleLine(a.reason))}</p>` : '') +
          `<pre>${escapeHtml(paramsText(a.params, Number.MAX_SAFE_INTEGER).text)}</pre>` +
          `<form method="post"><button type="submit">${verb}</button></form>`,
      );
    }),

  'POST /v1/approvals/email/{token}': async (req) =>
    page(async () => {
      const r = await actionsDeps().callbacks.useEmailLink(req.params.token!);
      return html(
        200,
        `${r.approval.status === 'approved' ? 'Approved' : 'Denied'}: ${r.approval.action}`,
        `<p>Action ${escapeHtml(r.action.action_id)} is ${escapeHtml(r.action.status)}.</p>`,
      );
    }),
});
