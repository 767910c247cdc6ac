import { ManualClock } from '../../support/clock.js';
import { RecordingPublisher } from '../../support/events.js';
import type {
  AuditRecordInput,
  AuditSink,
  Decision,
  DecisionPoint,
  DecisionRequest,
} from '../../../lambdas/shared/ports.js';
import type {
  ActionPatch,
  ActionRecord,
  ActionStatus,
  ActionStore,
  AgentDirectory,
  AgentInfo,
  ApprovalChange,
  ApprovalNotifier,
  ApprovalRecord,
  Connector,
  ConnectorConfigStore,
  CredentialBroker,
  ReplayGuard,
  SecretStore,
} from '../../../lambdas/actions/core/model.js';
import { ActionService, type ActionServiceDeps } from '../../../lambdas/actions/core/service.js';
import type { ApprovalStatus } from '../../../lambdas/actions/schemas.js';
import { z } from 'zod';

const clone = <T>(x: T): T => structuredClone(x);

/** In-memory ActionStore with the same conditional semantics as the DynamoDB adapter. */
export class MemoryActionStore implements ActionStore {
  readonly actions = new Map<string, ActionRecord>();
  readonly approvals = new Map<string, ApprovalRecord>();
  private k = (t: string, id: string) => `${t}|${id}`;
  async create(action: ActionRecord, approval?: ApprovalRecord): Promise<void> {
    this.actions.set(this.k(action.tenant_id, action.action_id), clone(action));
    if (approval) this.approvals.set(this.k(approval.tenant_id, approval.approval_id), clone(approval));
  }
  async getAction(t: string, id: string) {
    const a = this.actions.get(this.k(t, id));
    return a ? clone(a) : null;
  }
  async getApproval(t: string, id: string) {
    const a = this.approvals.get(this.k(t, id));
    return a ? clone(a) : null;
  }
  async approvalTenant(id: string) {
    for (const a of this.approvals.values()) if (a.approval_id === id) return a.tenant_id;
    return null;
  }
  async listApprovals(t: string, opts: { status?: ApprovalStatus }) {
    return [...this.approvals.values()]
      .filter((a) => a.tenant_id === t && (!opts.status || a.status === opts.status))
      .map(clone);
  }
  async resolveApproval(
    approval: ApprovalRecord,
    change: ApprovalChange,
    actionTo: ActionStatus,
    patch?: Pick<ActionPatch, 'approval_metadata' | 'error'>,
  ) {
    const ak = this.k(approval.tenant_id, approval.approval_id);
    const cur = this.approvals.get(ak);
    const act = this.actions.get(this.k(approval.tenant_id, approval.action_id));
    if (cur?.status !== 'pending' || cur.binding_hash !== approval.binding_hash) return 'conflict' as const;
    if (change.status === 'approved' && Date.parse(cur.expires_at) <= Date.parse(change.at)) return 'conflict' as const;
    this.approvals.set(ak, {
      ...cur,
      status: change.status,
      decided_at: change.at,
      ...(change.decided_by ? { decided_by: change.decided_by } : {}),
      ...(change.decided_via ? { decided_via: change.decided_via } : {}),
      ...(change.decision_reason ? { decision_reason: change.decision_reason } : {}),
    });
    if (act?.status !== 'pending_approval' || act.binding_hash !== cur.binding_hash) return 'action_mismatch' as const;
    this.actions.set(this.k(approval.tenant_id, approval.action_id), {
      ...act,
      status: actionTo,
      updated_at: change.at,
      ...(patch ?? {}),
    });
    return 'ok' as const;
  }
  async claim(t: string, id: string, from: readonly ActionStatus[], to: ActionStatus, patch: ActionPatch) {
    return (await this.transition(t, id, from, to, patch)) ? structuredClone(this.actions.get(this.k(t, id))!) : null;
  }
  async transition(t: string, id: string, from: readonly ActionStatus[], to: ActionStatus, patch: ActionPatch) {
    const cur = this.actions.get(this.k(t, id));
    if (!cur || !from.includes(cur.status)) return false;
    const { incrementAttempts, ...rest } = patch;
    this.actions.set(this.k(t, id), {
      ...cur,
      ...rest,
      status: to,
      attempts: cur.attempts + (incrementAttempts ? 1 : 0),
    });
    return true;
  }
  async dueApprovals(nowIso: string, limit: number) {
    return [...this.approvals.values()]
      .filter((a) => a.status === 'pending' && a.expires_at <= nowIso)
      .slice(0, limit)
      .map((a) => ({ tenant_id: a.tenant_id, approval_id: a.approval_id }));
  }
  async inflightActions(before: string, limit: number) {
    return [...this.actions.values()]
      .filter((a) => (a.status === 'pending_execution' || a.status === 'executing') && a.updated_at < before)
      .slice(0, limit)
      .map((a) => ({ tenant_id: a.tenant_id, action_id: a.action_id }));
  }
  async agentActions(t: string, agent: string, statuses: readonly ActionStatus[]) {
    return [...this.actions.values()]
      .filter((a) => a.tenant_id === t && a.agent_id === agent && statuses.includes(a.status))
      .map(clone);
  }
}

export class MemoryReplayGuard implements ReplayGuard {
  readonly used = new Set<string>();
  async useOnce(key: string): Promise<boolean> {
    if (this.used.has(key)) return false;
    this.used.add(key);
    return true;
  }
}

/** A DecisionPoint that classifies by operation like the brief's okta-access-review policy. */
export class FakePdp implements DecisionPoint {
  readonly calls: DecisionRequest[] = [];
  fail = false;
  hitl = { channel: '#access-reviews', timeout_seconds: 3600, separation_of_duties: false };
  constructor(
    readonly table: Record<
      string,
      { effect: 'permit' | 'forbid'; approval: 'none' | 'auto' | 'hitl'; risk: 'low' | 'medium' | 'high' | 'critical' }
    > = {},
  ) {}
  async decide(req: DecisionRequest): Promise<Decision> {
    this.calls.push(req);
    if (this.fail) throw new Error('cedar exploded');
    const r = this.table[req.action] ?? { effect: 'forbid', approval: 'none', risk: 'critical' };
    return {
      ...r,
      determining_policies: ['policy0'],
      errors: [],
      evaluation_ms: 0.1,
      bundle_version: 'v1',
      policy: 'okta-access-review',
      ...(r.approval === 'hitl' ? { hitl: this.hitl } : {}),
    };
  }
}

export class MemoryAudit implements AuditSink {
  readonly records: AuditRecordInput[] = [];
  fail = false;
  async record(input: AuditRecordInput) {
    if (this.fail) throw new Error('audit down');
    this.records.push(input);
    return { event_id: `evt_${this.records.length}` };
  }
}

export class MemoryDirectory implements AgentDirectory {
  readonly agents = new Map<string, AgentInfo>();
  async get(_t: string, id: string) {
    return this.agents.get(id) ?? null;
  }
}

export class MemoryRevocation {
  readonly revoked = new Set<string>();
  unknown = false;
  async status(_t: string, id: string): Promise<'revoked' | 'clear' | 'unknown'> {
    if (this.unknown) return 'unknown';
    return this.revoked.has(id) ? 'revoked' : 'clear';
  }
}

export class MemoryConfigs implements ConnectorConfigStore, SecretStore {
  readonly configs = new Map<string, Record<string, unknown>>();
  readonly secrets = new Map<string, Record<string, string>>();
  secretReads = 0;
  async getConfig(t: string, c: string) {
    return this.configs.get(`${t}|${c}`) ?? null;
  }
  async putConfig(t: string, c: string, cfg: Record<string, unknown>) {
    this.configs.set(`${t}|${c}`, cfg);
  }
  async get(name: string) {
    this.secretReads++;
    return this.secrets.get(name) ?? null;
  }
  async put(name: string, v: Record<string, string>) {
    this.secrets.set(name, v);
  }
}

export class RecordingNotifier implements ApprovalNotifier {
  readonly notified: ApprovalRecord[] = [];
  readonly resolvedOnes: ApprovalRecord[] = [];
  async notify(a: ApprovalRecord) {
    this.notified.push(a);
  }
  async resolved(a: ApprovalRecord) {
    this.resolvedOnes.push(a);
  }
}

export const noBroker: CredentialBroker = {
  async awsCredentials() {
    throw new Error('no broker in this test');
  },
};

/** A connector that counts calls; `failNext` makes the next call throw. */
export function countingConnector() {
  const calls: { operation: string; params: Record<string, unknown>; secret: unknown }[] = [];
  const state = { failNext: false, delayMs: 0 };
  const connector: Connector = {
    name: 'okta',
    description: 'test okta',
    configSchema: z.strictObject({}),
    operations: {
      'users:read': { description: 'read', params: z.strictObject({ filter: z.string().optional() }) },
      'users:create': { description: 'create', params: z.strictObject({ login: z.string() }) },
      'users:deactivate': { description: 'deactivate', params: z.strictObject({ user_id: z.string() }) },
      'users:delete': { description: 'delete', params: z.strictObject({ user_id: z.string() }) },
    },
    async execute(ctx, operation, params) {
      const secret = await ctx.secret();
      calls.push({ operation, params, secret });
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.failNext) {
        state.failNext = false;
        const { ConnectorError } = await import('../../../lambdas/actions/core/model.js');
        throw new ConnectorError('Okta answered 503', 'okta_503', true);
      }
      return { ok: true, operation };
    },
  };
  return { connector, calls, state };
}

export const silentLog = { info() {}, warn() {}, error() {} };

export function harness(overrides: Partial<ActionServiceDeps> = {}) {
  const clock = new ManualClock(Date.parse('2026-04-24T10:13:15Z'));
  const store = new MemoryActionStore();
  const pdp = new FakePdp({
    'okta:users:read': { effect: 'permit', approval: 'none', risk: 'low' },
    'okta:users:create': { effect: 'permit', approval: 'auto', risk: 'medium' },
    'okta:users:deactivate': { effect: 'permit', approval: 'hitl', risk: 'high' },
  });
  const audit = new MemoryAudit();
  const events = new RecordingPublisher();
  const agents = new MemoryDirectory();
  agents.agents.set('agt_1', {
    agent_id: 'agt_1',
    name: 'access-reviewer',
    status: 'active',
    owner_sub: 'owner-sub',
    owner_email: 'owner@example.com',
  });
  const revocation = new MemoryRevocation();
  const configs = new MemoryConfigs();
  configs.secrets.set('arx/t1/connectors/okta', { api_token: 's3cr3t' });
  const notifier = new RecordingNotifier();
  const okta = countingConnector();
  const deps: ActionServiceDeps = {
    store,
    pdp,
    revocation,
    agents,
    audit,
    events,
    connectors: new Map([['okta', okta.connector]]),
    configs,
    secrets: configs,
    credentials: noBroker,
    notifier,
    clock,
    log: silentLog,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
    ...overrides,
  };
  const svc = new ActionService(deps);
  return { svc, clock, store, pdp, audit, events, agents, revocation, configs, notifier, okta, deps };
}

export const trace = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
};
export const agent = { tenantId: 't1', agentId: 'agt_1', spiffeId: 'spiffe://t1.arx/custom/agt_1' };
export const manager = {
  id: 'manager-sub',
  display: 'manager@example.com',
  email: 'manager@example.com',
  principalType: 'human' as const,
  via: 'api' as const,
};
