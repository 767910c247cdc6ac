/**
 * What each kind of subscription receives for one event. Rendering is deterministic, so every
 * attempt (and a replay) sends the same body under the same `webhook-id`.
 */
import { ANCHORING_FAILED, type Format, type StreamEvent, type SubscriptionKind } from './model.js';
import { toOcsf } from './ocsf.js';

/** PagerDuty Events API v2 endpoint (a subscription may name a regional one, e.g. EU). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** The event's payload in the subscription's format: the ARX envelope or the OCSF record. */
export function payloadOf(e: StreamEvent, format: Format): Record<string, unknown> {
  // Standard Webhooks' recommended envelope: {type, timestamp, data}
  return format === 'ocsf' ? toOcsf(e) : { type: e.type, timestamp: e.time, data: e.detail };
}

/** One line for humans (Slack text, PagerDuty summary; at most 1024 characters as PagerDuty allows). */
export function summaryOf(e: StreamEvent): string {
  const d = e.detail;
  const agent = str(d.agent_id) ?? 'unknown agent';
  let s: string;
  switch (e.type) {
    case 'agent.terminated':
      s = `ARX: agent ${agent} was terminated${str(d.reason) ? ` (${str(d.reason)})` : ''}`;
      break;
    case 'agent.drift':
      s = `ARX: agent ${agent} drifted from its behavioural baseline${str(d.summary) ? `: ${str(d.summary)}` : ''}`;
      break;
    case ANCHORING_FAILED:
      s = `ARX: audit block ${String(d.height ?? '?')} of tenant ${d.tenant_id} could not be anchored with the timestamp authority (RFC 3161); anchoring is retried`;
      break;
    default:
      s = `ARX: ${e.type} (${d.event_id})`;
  }
  return s.slice(0, 1024);
}

/**
 * PagerDuty `dedup_key`: one incident per situation (the agent's termination or drift, the
 * tenant's anchoring outage), so repeated events update it instead of paging again.
 */
export function dedupKeyOf(e: StreamEvent): string {
  const d = e.detail;
  const subject = e.type === ANCHORING_FAILED ? 'chain' : (str(d.agent_id) ?? String(d.event_id));
  return `arx/${d.tenant_id}/${e.type}/${subject}`.slice(0, 255);
}

const severityOf = (type: string): 'critical' | 'error' | 'warning' | 'info' =>
  type === ANCHORING_FAILED ? 'error' : type === 'agent.terminated' || type === 'agent.drift' ? 'warning' : 'info';

/** The request body for `kind` (JSON text). `secret` holds the destination's credentials. */
export function bodyFor(
  kind: SubscriptionKind,
  format: Format,
  e: StreamEvent,
  secret: Record<string, string>,
): string {
  switch (kind) {
    case 'webhook':
      return JSON.stringify(payloadOf(e, format));
    case 'slack':
      // Slack incoming webhook: `text` is the notification (and the fallback of any blocks)
      return JSON.stringify({
        text: summaryOf(e),
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: summaryOf(e) } },
          {
            type: 'context',
            elements: [{ type: 'mrkdwn', text: `${e.type} · event ${String(e.detail.event_id)} · ${e.time}` }],
          },
        ],
      });
    case 'pagerduty':
      return JSON.stringify({
        routing_key: secret.routing_key,
        event_action: 'trigger',
        dedup_key: dedupKeyOf(e),
        payload: {
          summary: summaryOf(e),
          source: `arx/${e.detail.tenant_id}`,
          severity: severityOf(e.type),
          timestamp: e.time,
          component: str(e.detail.agent_id) ?? 'audit-chain',
          group: e.type,
          class: e.type,
          custom_details: payloadOf(e, format),
        },
      });
    case 's3':
      return JSON.stringify(toOcsf(e));
  }
}
