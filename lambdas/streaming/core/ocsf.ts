/**
 * ARX events as OCSF 1.3.0 records (https://schema.ocsf.io/1.3.0/). Each event type maps to one
 * class; `OCSF_MAPPING` documents class, activity, actor, resources and status per type, and
 * test/unit/streaming/ocsf.test.ts checks every mapped record against the class requirements
 * derived from the ocsf/ocsf-schema repository at tag 1.3.0 (test/fixtures/ocsf/).
 *
 * - Account Change (IAM, 3001): the agent is the account whose lifecycle changed.
 * - API Activity (Application, 6003): governed actions, policy decisions, approvals, bundle
 *   promotions and sealed audit blocks; the agent (or approver) is the actor, the action's target
 *   the resource, the decision the status.
 * - Detection Finding (Findings, 2004): drift and anchoring failures, which need attention.
 */
import { ANCHORING_FAILED, type StreamEvent } from './model.js';

export const OCSF_VERSION = '1.3.0';

export type OcsfClass = 'account_change' | 'api_activity' | 'detection_finding';
export const OCSF_CLASSES: Record<OcsfClass, { class_uid: number; category_uid: number; class_name: string }> = {
  account_change: { class_uid: 3001, category_uid: 3, class_name: 'Account Change' },
  api_activity: { class_uid: 6003, category_uid: 6, class_name: 'API Activity' },
  detection_finding: { class_uid: 2004, category_uid: 2, class_name: 'Detection Finding' },
};

/** Per event type: class, activity (id and name), and what fills actor, resources and status. */
export const OCSF_MAPPING: Record<
  string,
  { cls: OcsfClass; activity: [number, string]; actor: string; resources: string; status: string }
> = {
  'inventory.change': {
    cls: 'account_change',
    activity: [99, 'Other'],
    actor: 'the ARX control plane',
    resources: 'user: the agent (uid agent_id, type Other/agent)',
    status: 'Success; activity Create for change=registered, Disable for status suspended/revoked/terminated',
  },
  'agent.terminated': {
    cls: 'account_change',
    activity: [5, 'Disable'],
    actor: 'user: initiated_by (the admin who terminated)',
    resources: 'user: the agent; reason in status_detail',
    status: 'Success',
  },
  'agent.terminated.completed': {
    cls: 'account_change',
    activity: [6, 'Delete'],
    actor: 'the ARX control plane',
    resources: 'user: the agent (or the termination target)',
    status: 'Success when the saga completed, Failure on partial_failure',
  },
  'policy.decision': {
    cls: 'api_activity',
    activity: [2, 'Read'],
    actor: 'user: the agent (principal)',
    resources: 'resources[]: the action and its target; api.operation = the action name',
    status: 'Success for permit, Failure for forbid (status_detail: the decision)',
  },
  'decision.required': {
    cls: 'api_activity',
    activity: [1, 'Create'],
    actor: 'user: the agent',
    resources: 'resources[]: the approval and the action',
    status: 'Other (pending human approval)',
  },
  'decision.approved': {
    cls: 'api_activity',
    activity: [3, 'Update'],
    actor: 'user: the approver',
    resources: 'resources[]: the approval and the action',
    status: 'Success',
  },
  'decision.denied': {
    cls: 'api_activity',
    activity: [3, 'Update'],
    actor: 'user: the approver',
    resources: 'resources[]: the approval and the action',
    status: 'Failure',
  },
  'decision.expired': {
    cls: 'api_activity',
    activity: [3, 'Update'],
    actor: 'the ARX control plane',
    resources: 'resources[]: the approval and the action',
    status: 'Failure (expired)',
  },
  'operation.executed': {
    cls: 'api_activity',
    activity: [99, 'Other'],
    actor: 'user: the agent',
    resources: 'resources[]: the action and the connector operation',
    status: 'Success',
  },
  'operation.failed': {
    cls: 'api_activity',
    activity: [99, 'Other'],
    actor: 'user: the agent',
    resources: 'resources[]: the action and the connector operation',
    status: 'Failure (status_detail: the error)',
  },
  'bundle.promoted': {
    cls: 'api_activity',
    activity: [3, 'Update'],
    actor: 'user: promoted_by, else the ARX control plane',
    resources: 'resources[]: the policy bundle (uid bundle_id, version)',
    status: 'Success',
  },
  'audit.block.sealed': {
    cls: 'api_activity',
    activity: [1, 'Create'],
    actor: 'the ARX control plane (audit sealer)',
    resources: 'resources[]: the audit block (uid block_id, height, hash)',
    status: 'Success when anchored, Other when anchoring is pending',
  },
  'agent.drift': {
    cls: 'detection_finding',
    activity: [1, 'Create'],
    actor: 'the ARX control plane (drift detector)',
    resources: 'resources[]: the agent; finding_info: uid event_id, title the drift summary',
    status: 'New finding (status_id 1)',
  },
  'token.issued': {
    cls: 'api_activity',
    activity: [1, 'Create'],
    actor: 'user: the agent the token was issued to',
    resources: 'resources[]: the token audience; api.operation = identity:tokens:<grant>',
    status: 'Success',
  },
  'token.refresh_reuse': {
    cls: 'detection_finding',
    activity: [1, 'Create'],
    actor: 'the ARX control plane (token endpoint)',
    resources: 'resources[]: the agent; finding_info: uid event_id, title "refresh token reused: family revoked"',
    status: 'New finding (status_id 1)',
  },
  [ANCHORING_FAILED]: {
    cls: 'detection_finding',
    activity: [1, 'Create'],
    actor: 'the ARX control plane (audit sealer)',
    resources: 'resources[]: the audit block; finding_info: uid event_id, title "audit block not anchored"',
    status: 'New finding (status_id 1)',
  },
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const ARX_ACTOR = { app_name: 'ARX control plane' };
const agentUser = (d: Record<string, unknown>) => ({
  uid: str(d.agent_id) ?? str(d.target_id) ?? 'unknown',
  type_id: 99,
  type: 'AI agent',
  ...(str(d.spiffe_id) ? { uid_alt: str(d.spiffe_id) } : {}),
});
const humanOrArx = (who: unknown) => (str(who) ? { user: { name: str(who), type_id: 1, type: 'User' } } : ARX_ACTOR);

/** OCSF status_id: 1 Success, 2 Failure, 99 Other. */
function statusOf(type: string, d: Record<string, unknown>): [number, string, string?] {
  switch (type) {
    case 'policy.decision':
      return d.effect === 'permit' || d.decision === 'permit'
        ? [1, 'Success', 'permit']
        : [2, 'Failure', str(d.effect) ?? str(d.decision) ?? 'forbid'];
    case 'decision.required':
      return [99, 'Other', 'pending approval'];
    case 'decision.denied':
      return [2, 'Failure', 'denied'];
    case 'decision.expired':
      return [2, 'Failure', 'expired'];
    case 'operation.failed':
      return [2, 'Failure', str(d.error) ?? str(d.error_code)];
    case 'agent.terminated.completed':
      return d.status === 'partial_failure' ? [2, 'Failure', 'partial_failure'] : [1, 'Success'];
    case 'audit.block.sealed':
      return d.anchored === false ? [99, 'Other', 'anchoring pending'] : [1, 'Success'];
    case 'agent.terminated':
      return [1, 'Success', str(d.reason)];
    default:
      return [1, 'Success'];
  }
}

/**
 * The OCSF record of an ARX event (types without a mapping are API Activity, activity Other).
 * `unmapped` keeps the whole ARX detail, so nothing is lost in translation.
 */
export function toOcsf(e: StreamEvent): Record<string, unknown> {
  const d = e.detail;
  const m = OCSF_MAPPING[e.type] ?? {
    cls: 'api_activity' as const,
    activity: [99, 'Other'] as [number, string],
  };
  let [activityId, activityName] = m.activity;
  if (e.type === 'inventory.change') {
    if (d.change === 'registered') [activityId, activityName] = [1, 'Create'];
    else if (['suspended', 'revoked', 'terminated'].includes(String(d.status)))
      [activityId, activityName] = [5, 'Disable'];
  }
  const c = OCSF_CLASSES[m.cls];
  const [statusId, status, detail] = statusOf(e.type, d);
  const finding = m.cls === 'detection_finding';
  const time = Date.parse(e.time);
  const base: Record<string, unknown> = {
    class_uid: c.class_uid,
    class_name: c.class_name,
    category_uid: c.category_uid,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: c.class_uid * 100 + activityId,
    time: Number.isFinite(time) ? time : 0,
    severity_id: finding ? 3 : 1, // 3 Medium for findings, 1 Informational otherwise
    severity: finding ? 'Medium' : 'Informational',
    status_id: finding ? 1 : statusId,
    status: finding ? 'New' : status,
    ...(!finding && detail ? { status_detail: detail } : {}),
    message: `${e.type} ${String(d.event_id)}`,
    metadata: {
      version: OCSF_VERSION,
      uid: String(d.event_id),
      correlation_uid: str(d.correlation_id),
      tenant_uid: d.tenant_id,
      event_code: e.type,
      product: { name: 'ARX', vendor_name: 'ARX', feature: { name: 'streaming' } },
    },
    unmapped: d,
  };
  switch (m.cls) {
    case 'account_change':
      return {
        ...base,
        actor: e.type === 'agent.terminated' ? humanOrArx(d.initiated_by) : ARX_ACTOR,
        user: agentUser(d),
      };
    case 'api_activity': {
      const action =
        str(d.action) ??
        str(d.operation) ??
        (e.type === 'token.issued' ? `identity:tokens:${str(d.grant) ?? 'unknown'}` : e.type);
      const actor =
        e.type === 'decision.approved' || e.type === 'decision.denied'
          ? humanOrArx(d.decided_by ?? d.approver)
          : e.type === 'bundle.promoted'
            ? humanOrArx(d.promoted_by)
            : str(d.agent_id)
              ? { user: agentUser(d) }
              : ARX_ACTOR;
      const resources = [
        ...(str(d.action_id) ? [{ uid: str(d.action_id), type: 'arx.action', name: action }] : []),
        ...(str(d.approval_id) ? [{ uid: str(d.approval_id), type: 'arx.approval' }] : []),
        ...(str(d.bundle_id)
          ? [{ uid: str(d.bundle_id), type: 'arx.policy_bundle', version: String(d.version ?? '') }]
          : []),
        ...(str(d.block_id)
          ? [{ uid: str(d.block_id), type: 'arx.audit_block', name: `height ${String(d.height ?? '')}` }]
          : []),
        ...(str(d.target) ? [{ uid: str(d.target), type: 'arx.target' }] : []),
        ...(e.type === 'token.issued' && str(d.audience) ? [{ uid: str(d.audience), type: 'arx.token_audience' }] : []),
      ];
      return {
        ...base,
        actor,
        api: { operation: action, service: { name: str(d.connector) ?? 'arx' } },
        src_endpoint: str(d.agent_id) ? { uid: str(d.agent_id), name: 'agent' } : { name: 'arx-control-plane' },
        ...(resources.length ? { resources } : {}),
      };
    }
    case 'detection_finding':
      return {
        ...base,
        finding_info: {
          uid: String(d.event_id),
          title:
            e.type === ANCHORING_FAILED
              ? `Audit block ${String(d.height ?? '')} could not be anchored (RFC 3161)`
              : e.type === 'token.refresh_reuse'
                ? `Agent ${str(d.agent_id) ?? ''}: a spent refresh token was reused; its token family was revoked`
                : `Agent ${str(d.agent_id) ?? ''} drifted from its behavioural baseline`,
          types: [e.type],
        },
        resources:
          e.type === ANCHORING_FAILED
            ? [{ uid: str(d.block_id) ?? String(d.event_id), type: 'arx.audit_block' }]
            : [{ uid: str(d.agent_id) ?? 'unknown', type: 'arx.agent' }],
      };
  }
}
