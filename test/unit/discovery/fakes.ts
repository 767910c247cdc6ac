import { ConflictError } from '../../../lambdas/shared/errors.js';
import type { Page } from '../../../lambdas/shared/ports.js';
import {
  matchesDiscovered,
  type DiscoveredAgent,
  type DiscoveredFilter,
} from '../../../lambdas/discovery/core/discovered.js';
import type {
  DiscoveryChange,
  DiscoveryControl,
  DiscoveryStore,
  ScanRecord,
  SourceStatus,
} from '../../../lambdas/discovery/core/service.js';
import type { SourceConfig } from '../../../lambdas/discovery/core/sources.js';

/** In-memory DiscoveryStore with the same SCD-2 and concurrency semantics as the DynamoDB one. */
export class MemoryDiscoveryStore implements DiscoveryStore {
  readonly current = new Map<string, DiscoveredAgent>();
  readonly versions = new Map<string, DiscoveredAgent[]>();
  readonly events: DiscoveryChange[] = [];
  readonly registered = new Map<string, string>();
  readonly principals = new Map<string, string>();
  async get(t: string, id: string) {
    return this.current.get(`${t}/${id}`) ?? null;
  }
  async save(prev: DiscoveredAgent | null, next: DiscoveredAgent, change: DiscoveryChange | null) {
    const k = `${next.tenant_id}/${next.id}`;
    if ((this.current.get(k) ?? null) !== prev) throw new ConflictError('moved on');
    const vs = this.versions.get(k) ?? [];
    if (change && prev) vs[vs.length - 1] = { ...vs[vs.length - 1]!, valid_to: next.valid_from };
    if (change) vs.push(next);
    else vs[vs.length - 1] = next;
    this.versions.set(k, vs);
    this.current.set(k, next);
    if (change) {
      this.events.push(change);
      for (const p of next.principal_arns) this.principals.set(`${next.tenant_id}/${p}`, next.id);
    }
  }
  async history(t: string, id: string) {
    return this.versions.get(`${t}/${id}`) ?? [];
  }
  async list(t: string, f: DiscoveredFilter, limit: number): Promise<Page<DiscoveredAgent>> {
    return {
      items: [...this.current.values()].filter((a) => a.tenant_id === t && matchesDiscovered(a, f)).slice(0, limit),
    };
  }
  async registeredAgentId(t: string, p: string, n: string) {
    return this.registered.get(`${t}/${p}/${n}`) ?? null;
  }
  async findByPrincipal(t: string, arn: string) {
    return this.principals.get(`${t}/${arn}`) ?? null;
  }
}

export class MemoryDiscoveryControl implements DiscoveryControl {
  readonly sources: SourceConfig[] = [];
  readonly scans = new Map<string, ScanRecord>();
  readonly status = new Map<string, SourceStatus>();
  async putSource(s: SourceConfig) {
    this.sources.push(s);
  }
  async getSource(t: string, id: string) {
    return this.sources.find((s) => s.tenant_id === t && s.source_id === id) ?? null;
  }
  async listSources(t: string) {
    return this.sources.filter((s) => s.tenant_id === t);
  }
  async sourcesForAccount(a: string) {
    return this.sources.filter((s) => s.account_id === a);
  }
  async allScannableSources() {
    return this.sources.filter((s) => s.type === 'aws_account');
  }
  async putScan(s: ScanRecord) {
    this.scans.set(s.scan_id, s);
  }
  async getScan(_t: string, id: string) {
    return this.scans.get(id) ?? null;
  }
  async recordStatus(t: string, key: string, o: { at: string; ok: boolean; errors?: string[]; eventLagMs?: number }) {
    const prev = this.status.get(`${t}/${key}`);
    this.status.set(`${t}/${key}`, {
      key,
      last_attempt_at: o.at,
      errors: o.errors ?? [],
      ...(o.ok ? { last_success_at: o.at } : prev?.last_success_at ? { last_success_at: prev.last_success_at } : {}),
      ...(o.eventLagMs !== undefined
        ? { last_event_at: o.at, last_event_lag_ms: o.eventLagMs, events_total: (prev?.events_total ?? 0) + 1 }
        : {}),
    });
  }
  async listStatus(t: string) {
    return [...this.status.entries()].filter(([k]) => k.startsWith(`${t}/`)).map(([, v]) => v);
  }
}
