/** In-memory implementations of the kill switch's ports for core unit tests. */
import { ConflictError } from '../../../lambdas/shared/errors.js';
import type { AgentFilter, AgentRecord, InventoryStore, Page } from '../../../lambdas/shared/ports.js';
import { spiffeIdOf } from '../../../lambdas/shared/ids.js';
import { matchesFilter } from '../../../lambdas/identity/adapters/dynamo-inventory-store.js';
import type { RevocationEntry } from '../../../lambdas/shared/ports.js';
import type {
  StepName,
  Termination,
  TerminationStatus,
  TerminationStep,
} from '../../../lambdas/killswitch/core/model.js';
import type {
  AgentStepResult,
  QuorumRequest,
  RevocationWriter,
  SagaStarter,
  StepPatch,
  TerminationStore,
} from '../../../lambdas/killswitch/core/ports.js';
import { SagaAlreadyStartedError } from '../../../lambdas/killswitch/core/ports.js';

export class MemoryTerminationStore implements TerminationStore {
  readonly terms = new Map<string, Termination>();
  readonly claims = new Map<string, string>();
  quorum: QuorumRequest | null = null;
  private key = (t: string, id: string) => `${t}|${id}`;

  async create(t: Termination) {
    this.terms.set(this.key(t.tenant_id, t.termination_id), structuredClone(t));
    const claimed: string[] = [];
    const taken: { agent_id: string; termination_id: string }[] = [];
    for (const a of t.agent_ids) {
      const k = this.key(t.tenant_id, a);
      const other = this.claims.get(k);
      if (other) taken.push({ agent_id: a, termination_id: other });
      else {
        this.claims.set(k, t.termination_id);
        claimed.push(a);
      }
    }
    return { claimed, taken };
  }
  async get(tenantId: string, id: string) {
    const t = this.terms.get(this.key(tenantId, id));
    return t ? structuredClone(t) : null;
  }
  async claimOf(tenantId: string, agentId: string) {
    return this.claims.get(this.key(tenantId, agentId)) ?? null;
  }
  private patch(tenantId: string, id: string, f: (t: Termination) => Termination) {
    const k = this.key(tenantId, id);
    const t = this.terms.get(k);
    if (!t) throw new Error('no termination');
    this.terms.set(k, f(t));
  }
  private patchStep(tenantId: string, id: string, step: StepName, f: (s: TerminationStep) => TerminationStep) {
    this.patch(tenantId, id, (t) => ({ ...t, steps: t.steps.map((s) => (s.name === step ? f(s) : s)) }));
  }
  async setAgents(
    tenantId: string,
    id: string,
    agentIds: readonly string[],
    taken: readonly { agent_id: string; termination_id: string }[],
  ) {
    this.patch(tenantId, id, (t) => ({ ...t, agent_ids: [...agentIds], already_terminating: [...taken] }));
  }
  async beginStep(tenantId: string, id: string, step: StepName, at: string) {
    this.patchStep(tenantId, id, step, (s) => ({ ...s, attempts: s.attempts + 1, at }));
  }
  async endStep(tenantId: string, id: string, step: StepName, p: StepPatch) {
    this.patchStep(tenantId, id, step, (s) => {
      const { error: _e, ...rest } = s;
      return {
        ...(p.status === 'ok' && p.error === undefined ? rest : s),
        status: p.status,
        at: p.at,
        attempts: s.attempts + (p.attempt ? 1 : 0),
        ...(p.error ? { error: p.error } : {}),
        ...(p.detail ? { detail: p.detail } : {}),
        results: { ...(s.results ?? {}), ...(p.results ?? {}) },
      };
    });
  }
  async recordAgentResult(tenantId: string, id: string, step: StepName, agentId: string, result: AgentStepResult) {
    this.patchStep(tenantId, id, step, (s) => ({ ...s, results: { ...(s.results ?? {}), [agentId]: result } }));
  }
  async setExecution(tenantId: string, id: string, arn: string) {
    this.patch(tenantId, id, (t) => ({ ...t, execution_arn: arn }));
  }
  async setAttestation(tenantId: string, id: string, url: string) {
    this.patch(tenantId, id, (t) => ({ ...t, attestation_url: url }));
  }
  async finish(tenantId: string, id: string, status: TerminationStatus, at: string) {
    const t = this.terms.get(this.key(tenantId, id))!;
    if (t.status !== 'in_flight') return false;
    this.patch(tenantId, id, (x) => ({ ...x, status, completed_at: at }));
    return true;
  }
  async getQuorum() {
    return this.quorum;
  }
  async putQuorum(q: QuorumRequest, now: Date) {
    if (this.quorum && Date.parse(this.quorum.expires_at) > now.getTime()) return false;
    this.quorum = q;
    return true;
  }
  async consumeQuorum(_t: string, requestId: string) {
    if (this.quorum?.request_id !== requestId) return false;
    this.quorum = null;
    return true;
  }
}

export class MemoryInventory implements InventoryStore {
  readonly versions = new Map<string, AgentRecord[]>();
  failUpdates = false;
  async create(r: AgentRecord) {
    this.versions.set(`${r.tenant_id}|${r.agent_id}`, [r]);
  }
  async get(t: string, a: string) {
    return this.versions.get(`${t}|${a}`)?.at(-1) ?? null;
  }
  async update(
    current: AgentRecord,
    patch: Partial<AgentRecord>,
    meta: { at: string; actor: string; reason: string },
    options: { requireStatusIn?: readonly string[] } = {},
  ) {
    if (this.failUpdates) throw Object.assign(new Error('ddb down'), { name: 'InternalServerError' });
    const list = this.versions.get(`${current.tenant_id}|${current.agent_id}`)!;
    const last = list.at(-1)!;
    if (last.version !== current.version || (options.requireStatusIn && !options.requireStatusIn.includes(last.status)))
      throw new ConflictError('moved');
    const next = {
      ...last,
      ...patch,
      version: last.version + 1,
      valid_from: meta.at,
      changed_by: meta.actor,
      change_reason: meta.reason,
    } as AgentRecord;
    list.push(next);
    return next;
  }
  async list(t: string, f: AgentFilter, limit: number): Promise<Page<AgentRecord>> {
    const items = [...this.versions.values()]
      .map((v) => v.at(-1)!)
      .filter((r) => r.tenant_id === t && matchesFilter(r, f));
    return { items: items.slice(0, limit) };
  }
  async history(t: string, a: string) {
    return this.versions.get(`${t}|${a}`) ?? [];
  }
}

export function agent(tenant: string, id: string, extra: Partial<AgentRecord> = {}): AgentRecord {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    tenant_id: tenant,
    agent_id: id,
    spiffe_id: spiffeIdOf(tenant, 'custom', id),
    platform: 'custom',
    platform_native_id: `n-${id}`,
    owner: { oidc_sub: 'o', attested_at: at, attestation_method: 'registration', status: 'live' },
    status: 'active',
    version: 1,
    created_at: at,
    valid_from: at,
    credential_generation: 1,
    changed_by: 't',
    change_reason: 'r',
    ...extra,
  };
}

export class MemoryRevocations implements RevocationWriter {
  readonly entries: RevocationEntry[] = [];
  async revoke(e: RevocationEntry) {
    this.entries.push(e);
  }
}

export class RecordingStarter implements SagaStarter {
  readonly started: string[] = [];
  async start(id: string) {
    if (this.started.includes(id)) throw new SagaAlreadyStartedError(id);
    this.started.push(id);
    return `arn:aws:states:us-east-1:1:execution:sm:${id}`;
  }
}
