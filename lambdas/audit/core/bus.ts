/**
 * Audit events from bus events, for governed changes whose owners publish but do not call the
 * AuditSink themselves: identity changes (`inventory.change`), bundle promotions
 * (`bundle.promoted`), and the token endpoint's issuances and detected refresh token reuse
 * (`token.issued`, `token.refresh_reuse`). Idempotent on the bus event id (delivery is at least once).
 */
import type { AuditRecordInput } from '../../shared/ports.js';

export const AUDITED_DETAIL_TYPES = [
  'inventory.change',
  'bundle.promoted',
  'token.issued',
  'token.refresh_reuse',
  'agent.drift',
] as const;

type Detail = Record<string, unknown> & {
  tenant_id?: unknown;
  event_id?: unknown;
  correlation_id?: unknown;
  trace_id?: unknown;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Maps a bus event to an audit record, or null when it is not audited / malformed. */
export function auditInputFromBus(
  detailType: string,
  detail: Detail,
  receivedAt: Date,
): { input: AuditRecordInput; dedupeKey: string } | null {
  const tenant = str(detail.tenant_id);
  const eventId = str(detail.event_id);
  if (!tenant || !eventId) return null;
  const base = {
    tenant_id: tenant,
    correlation_id: str(detail.correlation_id) ?? eventId,
    trace_id: str(detail.trace_id) ?? '0'.repeat(32),
    payload: { detail_type: detailType, detail },
  };
  switch (detailType) {
    case 'inventory.change': {
      const change = str(detail.change) ?? 'updated';
      const agent = str(detail.agent_id);
      // control: soc2_2017:CC6.2, owasp_nhi_top10_2025:NHI1, nist_ai_rmf_1_0:GOVERN-1.6, owasp_nhi_top10_2025:NHI7
      const type =
        change === 'registered'
          ? 'identity.agent.registered'
          : change === 'rotated'
            ? 'identity.agent.rotated'
            : change === 'owner'
              ? 'identity.owner.changed'
              : change === 'status' && str(detail.status) !== 'active'
                ? 'identity.agent.revoked'
                : `identity.agent.${change}`;
      return {
        input: {
          ...base,
          event_type: type,
          ...(agent ? { agent_id: agent } : {}),
          action: `identity:agents:${change}`,
          ...(agent ? { target: `agent:${agent}` } : {}),
          ...(str(detail.status) ? { decision: str(detail.status)! } : {}),
          occurred_at: str(detail.at) ?? receivedAt.toISOString(),
        },
        dedupeKey: `${detailType}#${eventId}`,
      };
    }
    case 'bundle.promoted': {
      const bundle = str(detail.bundle_id);
      // control: soc2_2017:CC8.1, eu_ai_act:Art.17, iso_42001_2023:A.6.2.5
      return {
        input: {
          ...base,
          event_type: 'bundle.promoted',
          action: 'policy:bundles:promote',
          ...(bundle ? { target: `bundle:${bundle}` } : {}),
          decision: 'promoted',
          occurred_at: receivedAt.toISOString(),
        },
        dedupeKey: `${detailType}#${eventId}`,
      };
    }
    case 'token.issued': {
      const agent = str(detail.agent_id);
      const grant = str(detail.grant) ?? 'unknown';
      // control: soc2_2017:CC6.1, owasp_nhi_top10_2025:NHI4
      return {
        input: {
          ...base,
          event_type: 'identity.token.issued',
          ...(agent ? { agent_id: agent } : {}),
          action: `identity:tokens:${grant}`,
          ...(str(detail.audience) ? { target: `audience:${str(detail.audience)}` } : {}),
          decision: 'issued',
          occurred_at: str(detail.at) ?? receivedAt.toISOString(),
        },
        dedupeKey: `${detailType}#${eventId}`,
      };
    }
    case 'token.refresh_reuse': {
      const agent = str(detail.agent_id);
      // control: soc2_2017:CC6.3, owasp_nhi_top10_2025:NHI2
      return {
        input: {
          ...base,
          event_type: 'identity.token.family_revoked',
          ...(agent ? { agent_id: agent } : {}),
          action: 'identity:tokens:refresh_reuse',
          ...(str(detail.refresh_family) ? { target: `refresh_family:${str(detail.refresh_family)}` } : {}),
          decision: 'revoked',
          occurred_at: str(detail.at) ?? receivedAt.toISOString(),
        },
        dedupeKey: `${detailType}#${eventId}`,
      };
    }
    case 'agent.drift': {
      const agent = str(detail.agent_id);
      const state = str(detail.state) === 'cleared' ? 'cleared' : 'alert';
      // control: soc2_2017:CC7.2, iso_42001_2023:A.6.2.6, nist_ai_rmf_1_0:MANAGE-4.1, owasp_agentic_top10_2025:T13
      return {
        input: {
          ...base,
          event_type: `agent.drift.${state}`,
          ...(agent ? { agent_id: agent } : {}),
          action: 'drift:agents:score',
          ...(agent ? { target: `agent:${agent}` } : {}),
          decision: state,
          occurred_at: str(detail.at) ?? receivedAt.toISOString(),
        },
        dedupeKey: `${detailType}#${eventId}`,
      };
    }
    default:
      return null;
  }
}
