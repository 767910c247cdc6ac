import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '../../support/clock.js';
import { ConflictError, NotFoundError } from '../../../lambdas/shared/errors.js';
import {
  auditInferenceConfidence,
  combineConfidence,
  discoveredIdOf,
  mergeEvidence,
  principalWithoutSession,
  type Evidence,
} from '../../../lambdas/discovery/core/discovered.js';
import { interpretCloudTrail } from '../../../lambdas/discovery/core/cloudtrail.js';
import {
  scoreLambda,
  allowsModelInvocation,
  type AgentSource,
  type SourceConfig,
} from '../../../lambdas/discovery/core/sources.js';
import {
  adoptAgent,
  discoveryStatus,
  handleCloudTrail,
  INGEST_CONCURRENCY,
  ingestEvidence,
  runScan,
  type IdentityRegistrar,
} from '../../../lambdas/discovery/core/service.js';
import { MemoryDiscoveryControl, MemoryDiscoveryStore } from './fakes.js';

const T0 = new Date('2026-12-01T10:00:00.000Z');
const ev = (over: Partial<Evidence> = {}): Evidence => ({
  platform: 'bedrock',
  platform_native_id: 'AGENT1',
  source: 'list_api',
  origin: 'aws:123456789012:us-east-1',
  confidence: 1,
  observed_at: T0.toISOString(),
  ...over,
});
const ctx = (now = T0) => ({ tenantId: 'acme', now, actor: 'test' });

describe('mergeEvidence', () => {
  it('grounds identity in (platform, native id): the id is content-addressed and tenant-scoped', () => {
    const a = mergeEvidence(null, ev(), ctx()).next;
    expect(a.id).toBe(discoveredIdOf('acme', 'bedrock', 'AGENT1'));
    expect(a.id).toMatch(/^dag_[0-9a-f]{26}$/);
    expect(discoveredIdOf('globex', 'bedrock', 'AGENT1')).not.toBe(a.id);
    expect(discoveredIdOf('acme', 'aws-lambda', 'AGENT1')).not.toBe(a.id);
    expect(() => mergeEvidence(a, ev({ platform_native_id: 'OTHER' }), ctx())).toThrow(/another agent/);
  });

  it('merges evidence from several sources into one record, each source with its own first/last seen', () => {
    const t1 = new Date(T0.getTime() + 3600_000);
    const t2 = new Date(T0.getTime() + 7200_000);
    let a = mergeEvidence(
      null,
      ev({ source: 'audit_inference', confidence: 0.6, observed_at: T0.toISOString(), observed_actions: 1 }),
      ctx(),
    ).next;
    a = mergeEvidence(
      a,
      ev({ source: 'list_api', confidence: 1, observed_at: t1.toISOString(), name: 'support' }),
      ctx(t1),
    ).next;
    a = mergeEvidence(
      a,
      ev({ source: 'audit_inference', confidence: 0.6, observed_at: t2.toISOString(), observed_actions: 1 }),
      ctx(t2),
    ).next;
    expect(a.sources.map((s) => [s.source, s.first_seen, s.last_seen])).toEqual([
      ['list_api', t1.toISOString(), t1.toISOString()],
      ['audit_inference', T0.toISOString(), t2.toISOString()],
    ]);
    expect(a.source).toBe('list_api'); // the platform's own listing outranks an inference
    expect(a.first_seen).toBe(T0.toISOString());
    expect(a.last_seen).toBe(t2.toISOString());
    expect(a.observed_actions_30d).toBe(2);
    expect(a.name).toBe('support');
    expect(a.confidence).toBe(1);
    expect(a.sanctioned).toBe(false);
    expect(a.owner).toBe('unknown');
  });

  it('writes a new SCD-2 version only for material changes; activity updates the current version', () => {
    const v1 = mergeEvidence(null, ev({ name: 'a' }), ctx()).next;
    expect([v1.version, v1.valid_from]).toEqual([1, T0.toISOString()]);
    const later = new Date(T0.getTime() + 60_000);
    const seen = mergeEvidence(v1, ev({ name: 'a', observed_at: later.toISOString() }), ctx(later));
    expect(seen.material).toBe(false);
    expect(seen.next.version).toBe(1);
    expect(seen.next.last_seen).toBe(later.toISOString());
    const renamed = mergeEvidence(seen.next, ev({ name: 'b', observed_at: later.toISOString() }), ctx(later));
    expect(renamed).toMatchObject({ material: true, kind: 'updated' });
    expect([renamed.next.version, renamed.next.valid_from, renamed.next.name]).toEqual([2, later.toISOString(), 'b']);
    const deleted = mergeEvidence(renamed.next, ev({ name: 'b', deleted: true }), ctx(later));
    expect(deleted).toMatchObject({ material: true, kind: 'deleted' });
    expect(deleted.next.state).toBe('deleted');
    expect(mergeEvidence(deleted.next, ev({ name: 'b' }), ctx(later)).next.state).toBe('present');
  });

  it('counts observed actions over the last 30 days only', () => {
    let a = mergeEvidence(
      null,
      ev({ source: 'audit_inference', observed_actions: 5, observed_at: T0.toISOString() }),
      ctx(),
    ).next;
    const day31 = new Date(T0.getTime() + 31 * 86_400_000);
    a = mergeEvidence(
      a,
      ev({ source: 'audit_inference', observed_actions: 2, observed_at: day31.toISOString() }),
      ctx(day31),
    ).next;
    expect(a.observed_actions_30d).toBe(2);
  });

  it('marks a record sanctioned when an ARX identity is registered for it', () => {
    const a = mergeEvidence(null, ev(), { ...ctx(), registeredAgentId: 'agt_1' }).next;
    expect([a.sanctioned, a.arx_agent_id]).toEqual([true, 'agt_1']);
  });
});

describe('confidence', () => {
  it('combines independent sources by noisy-OR', () => {
    expect(combineConfidence([0.5, 0.5])).toBe(0.75);
    expect(combineConfidence([0.6, 0.4, 0.5])).toBe(0.88);
    expect(combineConfidence([1, 0.1])).toBe(1);
    expect(combineConfidence([])).toBe(0);
  });
  it('never decreases when a source is added and stays within [0, 1]', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (cs, extra) => {
          const before = combineConfidence(cs);
          const after = combineConfidence([...cs, extra]);
          return after >= before - 0.005 && after >= 0 && after <= 1;
        },
      ),
    );
  });
  it('rises with observed model calls for an audit inference', () => {
    expect([1, 9, 10, 99, 100].map(auditInferenceConfidence)).toEqual([0.6, 0.6, 0.8, 0.8, 0.9]);
  });
  it('scores Lambda evidence by kind and never reads environment values', () => {
    const now = T0;
    const f = {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f',
      functionName: 'f',
      environmentKeys: [] as string[],
      layerArns: [] as string[],
      roleActions: [] as string[],
    };
    expect(scoreLambda(f, 'o', now)).toBeNull();
    expect(
      scoreLambda({ ...f, layerArns: ['arn:aws:lambda:us-east-1:1:layer:langchain-py:3'] }, 'o', now)!.confidence,
    ).toBe(0.3);
    expect(scoreLambda({ ...f, roleActions: ['bedrock:*'] }, 'o', now)!.confidence).toBe(0.5);
    expect(
      scoreLambda({ ...f, environmentKeys: ['BEDROCK_AGENT_ID'], roleActions: ['bedrock:InvokeModel'] }, 'o', now)!
        .confidence,
    ).toBe(0.8);
    expect(['bedrock:InvokeModel', 'bedrock:ConverseStream', '*', 'bedrock:Invoke*'].every(allowsModelInvocation)).toBe(
      true,
    );
    expect(['bedrock:ListAgents', 's3:*', 'bedrock:GetAgent'].some(allowsModelInvocation)).toBe(false);
  });
});

const ct = (eventName: string, over: Record<string, unknown> = {}) => ({
  version: '0',
  id: 'e1',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.bedrock',
  account: '123456789012',
  time: T0.toISOString(),
  region: 'us-east-1',
  detail: {
    eventVersion: '1.09',
    eventTime: T0.toISOString(),
    eventSource: 'bedrock.amazonaws.com',
    eventName,
    awsRegion: 'us-east-1',
    userIdentity: {
      type: 'AssumedRole',
      arn: 'arn:aws:sts::123456789012:assumed-role/shadow-role/i-0abc',
      accountId: '123456789012',
      sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::123456789012:role/shadow-role' } },
    },
    requestParameters: { modelId: 'anthropic.claude-3-haiku' },
    responseElements: null,
    ...over,
  },
});

describe('interpretCloudTrail', () => {
  it('names the role without its session for every model call variant', () => {
    for (const n of ['InvokeModel', 'InvokeModelWithResponseStream', 'Converse', 'ConverseStream']) {
      expect(interpretCloudTrail(ct(n))).toMatchObject({
        kind: 'inference',
        principalArn: 'arn:aws:iam::123456789012:role/shadow-role',
        eventName: n,
      });
    }
    expect(principalWithoutSession('arn:aws:sts::123456789012:assumed-role/r/s')).toBe(
      'arn:aws:iam::123456789012:role/r',
    );
  });
  it('turns agent lifecycle calls into list_api evidence, DeleteAgent into a deletion', () => {
    const c = interpretCloudTrail(
      ct('CreateAgent', {
        requestParameters: {
          agentName: 'support',
          foundationModel: 'm1',
          agentResourceRoleArn: 'arn:aws:iam::123456789012:role/ar',
        },
        responseElements: { agent: { agentId: 'AG1' } },
      }),
    );
    expect(c).toMatchObject({
      kind: 'lifecycle',
      evidence: {
        platform: 'bedrock',
        platform_native_id: 'AG1',
        source: 'list_api',
        name: 'support',
        principal_arns: ['arn:aws:iam::123456789012:role/ar'],
        deleted: false,
      },
    });
    expect(interpretCloudTrail(ct('DeleteAgent', { requestParameters: { agentId: 'AG1' } }))).toMatchObject({
      kind: 'lifecycle',
      evidence: { deleted: true },
    });
    const rt = interpretCloudTrail({
      ...ct('CreateAgentRuntime', {
        eventSource: 'bedrock-agentcore.amazonaws.com',
        requestParameters: { agentRuntimeName: 'rt', roleArn: 'arn:aws:iam::123456789012:role/rt' },
        responseElements: { agentRuntimeId: 'rt-1' },
      }),
      source: 'aws.bedrock-agentcore',
    });
    expect(rt).toMatchObject({
      kind: 'lifecycle',
      evidence: { platform: 'bedrock-agentcore', platform_native_id: 'runtime/rt-1' },
    });
  });
  it('ignores failed calls, other events and malformed input without throwing', () => {
    expect(interpretCloudTrail(ct('InvokeModel', { errorCode: 'AccessDenied' })).kind).toBe('ignored');
    expect(interpretCloudTrail(ct('ListFoundationModels')).kind).toBe('ignored');
    expect(interpretCloudTrail({ 'detail-type': 'Scheduled Event' }).kind).toBe('ignored');
    expect(interpretCloudTrail(null).kind).toBe('ignored');
    expect(interpretCloudTrail({ ...ct('InvokeModel'), account: 'not-an-account' }).kind).toBe('ignored');
  });
});

const src: SourceConfig = {
  tenant_id: 'acme',
  source_id: 'src_1',
  type: 'aws_account',
  account_id: '123456789012',
  regions: ['us-east-1'],
  created_at: T0.toISOString(),
  created_by: 'alice',
};
function deps(sources: AgentSource[] = [], identity?: IdentityRegistrar) {
  const store = new MemoryDiscoveryStore();
  const control = new MemoryDiscoveryControl();
  const clock = new ManualClock(T0.getTime());
  return { store, control, clock, sources, ...(identity ? { identity } : {}) };
}

describe('ingestEvidence (SCD-2 + change feed)', () => {
  it('keeps every material version with valid_to closed and one inventory.change per version', async () => {
    const d = deps();
    await ingestEvidence(d, 'acme', [ev({ name: 'a' })], 'scan:1');
    d.clock.advance(1000);
    await ingestEvidence(d, 'acme', [ev({ name: 'a' })], 'scan:2'); // activity only
    d.clock.advance(1000);
    const r = await ingestEvidence(d, 'acme', [ev({ name: 'b' })], 'scan:3');
    expect(r).toMatchObject({ found: 1, new: 0, changed: 1 });
    const id = discoveredIdOf('acme', 'bedrock', 'AGENT1');
    const h = await d.store.history('acme', id);
    expect(h.map((v) => [v.version, v.name])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(h[0]!.valid_to).toBe(h[1]!.valid_from);
    expect(h[1]!.valid_to).toBeUndefined();
    expect(d.store.events.map((e) => [e.change, e.version, e.status, e.sanctioned])).toEqual([
      ['discovered', 1, 'unsanctioned', false],
      ['updated', 2, 'unsanctioned', false],
    ]);
  });
});

describe('ingestEvidence concurrency', () => {
  it("merges up to INGEST_CONCURRENCY agents at once, keeps one agent's evidence in order, and counts exactly", async () => {
    const d = deps();
    let inFlight = 0;
    let most = 0;
    const save = d.store.save.bind(d.store);
    d.store.save = async (prev, next, change) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      try {
        return await save(prev, next, change);
      } finally {
        inFlight--;
      }
    };
    const agents = Array.from({ length: 30 }, (_, i) => ev({ platform_native_id: `A${i}`, name: 'first' }));
    // The same agent twice in one batch: its second piece of evidence is merged after the first.
    const r = await ingestEvidence(d, 'acme', [...agents, ev({ platform_native_id: 'A0', name: 'second' })], 'scan:1');
    expect(r).toMatchObject({ found: 31, new: 30, changed: 1 });
    expect(most).toBe(INGEST_CONCURRENCY);
    const a0 = discoveredIdOf('acme', 'bedrock', 'A0');
    expect((await d.store.history('acme', a0)).map((v) => v.name)).toEqual(['first', 'second']);
    expect(r.ids.slice(0, 2)).toEqual([a0, a0]);
  });
});

describe('handleCloudTrail', () => {
  it('creates a shadow agent keyed by the role ARN for a model call by an unknown principal', async () => {
    const d = deps();
    await d.control.putSource(src);
    const r = await handleCloudTrail(d, ct('InvokeModel'));
    expect(r.kind).toBe('inference');
    const a = (await d.store.get('acme', r.ids[0]!))!;
    expect(a).toMatchObject({
      platform: 'aws-iam',
      platform_native_id: 'arn:aws:iam::123456789012:role/shadow-role',
      source: 'audit_inference',
      sanctioned: false,
      observed_actions_30d: 1,
      confidence: 0.6,
    });
    await handleCloudTrail(d, ct('Converse'));
    expect((await d.store.get('acme', r.ids[0]!))!.observed_actions_30d).toBe(2);
    const st = await discoveryStatus(d, 'acme');
    expect(st.cloudtrail.events_total).toBe(2);
  });
  it('attributes a model call by a known agent role to that agent instead of a shadow agent', async () => {
    const d = deps();
    await d.control.putSource(src);
    await ingestEvidence(d, 'acme', [ev({ principal_arns: ['arn:aws:iam::123456789012:role/shadow-role'] })], 'scan');
    const r = await handleCloudTrail(d, ct('InvokeModel'));
    expect(r.ids).toEqual([discoveredIdOf('acme', 'bedrock', 'AGENT1')]);
    expect(
      await d.store.get('acme', discoveredIdOf('acme', 'aws-iam', 'arn:aws:iam::123456789012:role/shadow-role')),
    ).toBeNull();
    expect((await d.store.get('acme', r.ids[0]!))!.observed_actions_30d).toBe(1);
  });
  it('does nothing for an account no tenant scans', async () => {
    const d = deps();
    expect(await handleCloudTrail(d, ct('InvokeModel'))).toEqual({ kind: 'inference', ids: [] });
    expect(d.store.current.size).toBe(0);
  });
});

describe('runScan', () => {
  it('reports an adapter failure as a partial scan and marks agents a complete listing lost as deleted', async () => {
    let listed: Evidence[] = [ev({ platform_native_id: 'A' }), ev({ platform_native_id: 'B' })];
    const ok: AgentSource = {
      name: 'ok',
      platforms: ['bedrock'],
      scan: async () => ({ evidence: listed, complete: true, errors: [] }),
    };
    const broken: AgentSource = {
      name: 'broken',
      platforms: ['aws-lambda'],
      scan: async () => {
        throw new Error('AccessDenied');
      },
    };
    const d = deps([ok, broken]);
    const s1 = await runScan(
      d,
      {
        tenant_id: 'acme',
        scan_id: 's1',
        status: 'queued',
        found: 0,
        new: 0,
        changed: 0,
        errors: [],
        requested_at: T0.toISOString(),
        requested_by: 'alice',
      },
      [src],
    );
    expect(s1).toMatchObject({ status: 'partial', found: 2, new: 2 });
    expect(s1.errors[0]).toMatch(/src_1: broken us-east-1: AccessDenied/);
    listed = [ev({ platform_native_id: 'A' })];
    const s2 = await runScan(d, { ...s1, scan_id: 's2', status: 'queued' }, [src]);
    expect(s2.changed).toBe(1);
    expect((await d.store.get('acme', discoveredIdOf('acme', 'bedrock', 'B')))!.state).toBe('deleted');
    await d.control.putSource(src);
    expect((await discoveryStatus(d, 'acme')).sources[0]).toMatchObject({
      source_id: 'src_1',
      last_success_at: null,
      errors: [expect.stringMatching(/AccessDenied/)],
    });
  });
});

describe('adoptAgent', () => {
  it('registers the agent through identity, returns its bootstrap token and writes a sanctioned version', async () => {
    const calls: unknown[] = [];
    const identity: IdentityRegistrar = {
      register: async (_c, input) => {
        calls.push(input);
        return {
          agent_id: 'agt_9',
          spiffe_id: 'spiffe://acme.arx/aws-iam/agt_9',
          status: 'active',
          bootstrap_token: 'arxb_x',
        };
      },
    };
    const d = deps([], identity);
    await d.control.putSource(src);
    const {
      ids: [id],
    } = await handleCloudTrail(d, ct('InvokeModel'));
    const out = await adoptAgent(
      d,
      { tenantId: 'acme', subject: 'alice' },
      id!,
      { oidc_sub: 'bob', team: 'ml' },
      { correlationId: 'c', traceId: 't' },
    );
    expect(out).toMatchObject({ agent_id: 'agt_9', bootstrap_token: 'arxb_x', discovered_id: id });
    expect(calls).toEqual([
      {
        platform: 'aws-iam',
        platform_native_id: 'arn:aws:iam::123456789012:role/shadow-role',
        owner: { oidc_sub: 'bob', team: 'ml' },
      },
    ]);
    const a = (await d.store.get('acme', id!))!;
    expect(a).toMatchObject({ sanctioned: true, arx_agent_id: 'agt_9', owner: { oidc_sub: 'bob' }, version: 2 });
    expect(d.store.events.at(-1)).toMatchObject({ change: 'adopted', status: 'sanctioned', arx_agent_id: 'agt_9' });
    await expect(
      adoptAgent(
        d,
        { tenantId: 'acme', subject: 'alice' },
        id!,
        { oidc_sub: 'bob' },
        { correlationId: 'c', traceId: 't' },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      adoptAgent(
        d,
        { tenantId: 'acme', subject: 'alice' },
        'dag_00000000000000000000000000',
        { oidc_sub: 'bob' },
        { correlationId: 'c', traceId: 't' },
      ),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      adoptAgent(
        d,
        { tenantId: 'globex', subject: 'eve' },
        id!,
        { oidc_sub: 'eve' },
        { correlationId: 'c', traceId: 't' },
      ),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(calls).toHaveLength(1);
  });
});

describe('mergeEvidence (versions)', () => {
  it('does not version a record when only the explaining signals of a source change', () => {
    const v1 = mergeEvidence(
      null,
      ev({ source: 'audit_inference', confidence: 0.6, signals: ['cloudtrail:InvokeModel'], observed_actions: 1 }),
      ctx(),
    ).next;
    const r = mergeEvidence(
      v1,
      ev({ source: 'audit_inference', confidence: 0.6, signals: ['cloudtrail:ConverseStream'], observed_actions: 1 }),
      ctx(),
    );
    expect(r.material).toBe(false);
    expect(r.next.sources[0]!.signals).toEqual(['cloudtrail:ConverseStream']);
    expect(r.next.observed_actions_30d).toBe(2);
  });
});
