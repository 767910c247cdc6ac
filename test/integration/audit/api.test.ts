import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { apiEvent } from '../../support/api-event.js';
import { ManualClock } from '../../support/clock.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { DynamoChainStore } from '../../../lambdas/audit/adapters/dynamo-chain-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { TenantKeysBlockSigner } from '../../../lambdas/audit/adapters/deps.js';
import { DynamoAuditKeyStore, KmsAuditKeyManager } from '../../../lambdas/audit/adapters/audit-keys.js';
import { AuditKeys } from '../../../lambdas/audit/core/audit-keys.js';
import { S3BlockStore } from '../../../lambdas/audit/adapters/s3-block-store.js';
import { AuditRecorder } from '../../../lambdas/audit/core/record.js';
import { sealTenant } from '../../../lambdas/audit/core/sealer.js';
import { verifyInclusion } from '../../../lambdas/audit/core/merkle.js';
import { verifyChain, verifyHeadSignature, type Jwk } from '../../../lambdas/audit/core/verify-chain.js';
import type { AuditBlock } from '../../../lambdas/audit/core/block.js';
import { createAuditTable, createKeys, createLockedBucket, s3, suffix } from './env.js';

// Spawns openssl / tsx processes: allow for a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

type Handler = (
  event: unknown,
  ctx: Context,
) => Promise<{ statusCode: number; body?: string; headers?: Record<string, string> }>;
const sfx = suffix();
const T = `t-api-${sfx}`;
const OTHER = `t-api-other-${sfx}`;
const table = `audit-api-${sfx}`;
const bucket = `audit-api-${sfx}`;
const artifacts = `artifacts-api-${sfx}`;
const clock = new ManualClock(Date.parse('2026-02-10T09:00:00Z'));
let api: Handler;
let compliance: Handler;
let jwks: Jwk[];
let keys: { dataKeyArn: string };
const ids: Record<string, string> = {};

const auditor: AuthContext = { tenantId: T, subject: 'auditor@corp', roles: ['auditor'], principalType: 'human' };
const admin: AuthContext = { ...auditor, subject: 'admin@corp', roles: ['admin'] };
const agent: AuthContext = {
  tenantId: T,
  subject: 'spiffe://arx/agent',
  roles: ['agent'],
  principalType: 'agent',
  agentId: 'agt_1',
};

async function call(
  fn: Handler,
  method: string,
  route: string,
  o: { params?: Record<string, string>; query?: Record<string, string>; auth?: AuthContext; body?: unknown } = {},
) {
  const r = await fn(apiEvent({ method, route, ...o, auth: o.auth ?? auditor }), {
    functionName: 'audit-test',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 30_000,
  } as Context);
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined };
}

beforeAll(async () => {
  await createAuditTable(table);
  await createLockedBucket(bucket);
  await s3().send(new CreateBucketCommand({ Bucket: artifacts }));
  keys = await createKeys();
  Object.assign(process.env, { ARX_AUDIT_TABLE: table, ARX_AUDIT_BUCKET: bucket, ARX_ARTIFACT_BUCKET: artifacts });
  api = (await import('../../../lambdas/audit/handlers/api.js')).handler as unknown as Handler;
  compliance = (await import('../../../lambdas/audit/handlers/compliance.js')).handler as unknown as Handler;

  const rec = new AuditRecorder({
    store: new DynamoEventStore(table),
    cipher: new KmsEnvelopeCipher(keys.dataKeyArn),
    clock,
  });
  const ev = async (tenant: string, type: string, action: string, cor: string, decision: string) => {
    clock.advance(60_000);
    return (
      await rec.record({
        tenant_id: tenant,
        event_type: type,
        agent_id: 'agt_1',
        action,
        target: `okta:user:${cor}`,
        decision,
        occurred_at: clock.now().toISOString(),
        correlation_id: cor,
        trace_id: 'd'.repeat(32),
        payload: { cor, email: 'x@y.z', action_id: `act_${cor}` },
      })
    ).event_id;
  };
  for (const cor of ['c1', 'c2', 'c3']) {
    ids[`approved-${cor}`] = await ev(T, 'decision.approved', 'okta:users:deactivate', cor, 'approved');
    ids[`exec-${cor}`] = await ev(T, 'operation.executed', 'okta:users:deactivate', cor, 'permit');
  }
  ids.suspend = await ev(T, 'operation.executed', 'okta:users:suspend', 'c9', 'permit');
  ids.other = await ev(OTHER, 'operation.executed', 'okta:users:deactivate', 'o1', 'permit');
  // the production block signer: each tenant's own audit key, registered in the audit table
  const auditKeys = new AuditKeys(new DynamoAuditKeyStore(table), new KmsAuditKeyManager(), clock);
  const deps = {
    events: new DynamoEventStore(table),
    chain: new DynamoChainStore(table),
    blocks: new S3BlockStore(bucket),
    signer: new TenantKeysBlockSigner(auditKeys),
    timestamper: null,
    clock,
    owner: 'api-test',
  };
  await sealTenant(deps, T);
  await sealTenant(deps, OTHER);
  jwks = (await auditKeys.keySet(T)).keys;
  ids.pending = await ev(T, 'policy.decision', 'okta:users:read', 'c10', 'permit');
});

describe('audit-api handlers', () => {
  it('reports chain status with height, head, pending events and the missing TSA', async () => {
    const r = await call(api, 'GET', '/v1/audit/chain/status');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      height: 1,
      tree_size: 7,
      pending_events: 1,
      unanchored_blocks: 1,
      anchoring: 'tsa_not_configured',
    });
    expect(r.json.head_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('lists events filtered by type and agent, tenant-scoped, and rejects unknown query fields', async () => {
    const r = await call(api, 'GET', '/v1/audit/events', { query: { type: 'decision.approved', limit: '2' } });
    expect(r.status).toBe(200);
    expect(r.json.items).toHaveLength(2);
    const next = await call(api, 'GET', '/v1/audit/events', {
      query: { type: 'decision.approved', limit: '2', next_token: r.json.next_token },
    });
    expect(next.json.items).toHaveLength(1);
    const all = await call(api, 'GET', '/v1/audit/events', { query: { agent_id: 'agt_1', limit: '100' } });
    expect(all.json.items.map((e: { event_id: string }) => e.event_id)).not.toContain(ids.other);
    expect((await call(api, 'GET', '/v1/audit/events', { query: { tenant_id: OTHER } })).status).toBe(400);
    expect((await call(api, 'GET', '/v1/audit/events', { auth: agent })).status).toBe(403);
  });

  it('refuses a next_token of another tenant, another listing, or altered, with a 400 and nothing else', async () => {
    const first = await call(api, 'GET', '/v1/audit/events', { query: { limit: '1' } });
    const byAgent = await call(api, 'GET', '/v1/audit/events', { query: { agent_id: 'agt_1', limit: '1' } });
    const token = first.json.next_token as string;
    expect(token).toBeTruthy();
    const list = (query: Record<string, string>, auth: AuthContext = auditor) =>
      call(api, 'GET', '/v1/audit/events', { query, auth });
    // The same token continues for its own tenant and listing.
    expect((await list({ limit: '1', next_token: token })).status).toBe(200);
    const refused = [
      await list({ next_token: token }, { ...auditor, tenantId: OTHER }),
      await list({ next_token: byAgent.json.next_token }),
      await list({ agent_id: 'agt_2', next_token: byAgent.json.next_token }),
      await list({ next_token: `${token.slice(0, -4)}AAAA` }),
      await list({ next_token: 'garbage' }),
      await list({
        next_token: Buffer.from(JSON.stringify({ pk: `T#${T}#EV`, sk: { S: 'x' } })).toString('base64url'),
      }),
      await list({
        next_token: Buffer.from(JSON.stringify({ pk: `T#${OTHER}#EV`, sk: 'aev_0' })).toString('base64url'),
      }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(400);
      expect(r.json.detail).toBe('invalid next_token');
    }
  });

  it('returns an inclusion proof against a signed root; 409 while pending; 404 for another tenant', async () => {
    const r = await call(api, 'GET', '/v1/audit/events/{event_id}/proof', { params: { event_id: ids['exec-c2']! } });
    expect(r.status).toBe(200);
    const p = r.json;
    expect(p).toMatchObject({ event_id: ids['exec-c2'], block_id: 'blk-000000000001', tree_size: 7, leaf_index: 3 });
    verifyInclusion(
      p.leaf_index,
      p.tree_size,
      Buffer.from(p.leaf_hash, 'base64'),
      p.proof.map((x: string) => Buffer.from(x, 'base64')),
      Buffer.from(p.root, 'base64'),
    );
    verifyHeadSignature({ head: p.head, signature: p.signature } as AuditBlock, jwks);
    expect(
      (await call(api, 'GET', '/v1/audit/events/{event_id}/proof', { params: { event_id: ids.pending! } })).status,
    ).toBe(409);
    expect(
      (await call(api, 'GET', '/v1/audit/events/{event_id}/proof', { params: { event_id: ids.other! } })).status,
    ).toBe(404);
  });

  it('lists block headers and returns blocks as stored, which the verifier accepts', async () => {
    const list = await call(api, 'GET', '/v1/audit/blocks', { query: { from_height: '1' } });
    expect(list.json.items).toHaveLength(1);
    expect(list.json.items[0]).toMatchObject({
      block_id: 'blk-000000000001',
      height: 1,
      event_count: 7,
      anchored: false,
    });
    const b = await call(api, 'GET', '/v1/audit/blocks/{id}', { params: { id: 'blk-000000000001' } });
    expect(b.status).toBe(200);
    const out = await verifyChain([{ name: '1.json', text: JSON.stringify(b.json) }], {
      jwks,
      eventId: ids['approved-c1']!,
    });
    expect(out).toMatchObject({ ok: true, events: 7 });
    expect((await call(api, 'GET', '/v1/audit/blocks/{id}', { params: { id: '2' } })).status).toBe(404);
    expect((await call(api, 'GET', '/v1/audit/blocks/{id}', { params: { id: '../x' } })).status).toBe(404);
  });

  it('F16: refuses a caller-chosen external id (400, nothing stored) and generates one per tenant', async () => {
    const body = {
      bucket: 'customer-audit-f16',
      prefix: 'arx/f16',
      role_arn: 'arn:aws:iam::210987654321:role/arx-writer',
    };
    const before = (await call(api, 'GET', '/v1/audit/destinations', { auth: admin })).json.items.length;
    const chosen = await call(api, 'POST', '/v1/audit/destinations', {
      auth: admin,
      body: { ...body, external_id: 'ext-of-tenant-b' },
    });
    expect(chosen.status).toBe(400);
    expect((await call(api, 'GET', '/v1/audit/destinations', { auth: admin })).json.items).toHaveLength(before);
    const a = await call(api, 'POST', '/v1/audit/destinations', { auth: admin, body });
    const b = await call(api, 'POST', '/v1/audit/destinations', {
      auth: admin,
      body: { ...body, prefix: 'arx/f16-2' },
    });
    const other = await call(api, 'POST', '/v1/audit/destinations', { auth: { ...admin, tenantId: OTHER }, body });
    expect(a.json).toMatchObject({
      status: 'pending_verification',
      external_id: expect.stringMatching(/^arx-[\w-]{32}$/),
    });
    expect(b.json.external_id).toBe(a.json.external_id); // one per tenant
    expect(other.json.external_id).not.toBe(a.json.external_id);
  });

  it('adds a customer destination (admin only, strict body)', async () => {
    const body = {
      bucket: 'customer-audit',
      prefix: 'arx/acme',
      role_arn: 'arn:aws:iam::210987654321:role/arx-writer',
    };
    expect((await call(api, 'POST', '/v1/audit/destinations', { auth: auditor, body })).status).toBe(403);
    expect(
      (await call(api, 'POST', '/v1/audit/destinations', { auth: admin, body: { ...body, tenant_id: OTHER } })).status,
    ).toBe(400);
    expect(
      (await call(api, 'POST', '/v1/audit/destinations', { auth: admin, body: { ...body, role_arn: 'not-an-arn' } }))
        .status,
    ).toBe(400);
    const r = await call(api, 'POST', '/v1/audit/destinations', { auth: admin, body });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ tenant_id: T, bucket: 'customer-audit', prefix: 'arx/acme' });
    const l = await call(api, 'GET', '/v1/audit/destinations', { auth: admin });
    expect(l.json).toMatchObject({
      items: expect.arrayContaining([
        expect.objectContaining({ destination_id: r.json.destination_id, status: 'pending_verification' }),
      ]),
      queued_writes: 0,
    });
  });
});

describe('compliance-api handlers', () => {
  it('pages evidence events per control, tagged at emit time', async () => {
    const r = await call(compliance, 'GET', '/v1/compliance/controls/{framework}/{control_id}/evidence', {
      params: { framework: 'eu_ai_act', control_id: 'Art.14' },
      query: { limit: '2' },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ framework: 'eu_ai_act', control_id: 'Art.14', title: 'Human oversight' });
    expect(r.json.items).toHaveLength(2);
    const rest = await call(compliance, 'GET', '/v1/compliance/controls/{framework}/{control_id}/evidence', {
      params: { framework: 'eu_ai_act', control_id: 'Art.14' },
      query: { next_token: r.json.next_token },
    });
    expect(rest.json.items).toHaveLength(1);
    expect(
      (
        await call(compliance, 'GET', '/v1/compliance/controls/{framework}/{control_id}/evidence', {
          params: { framework: 'made_up', control_id: 'X' },
        })
      ).status,
    ).toBe(404);
  });

  it('builds a package with computed report lines, proofs, mapping, PDF and JSON-LD, readable back', async () => {
    const r = await call(compliance, 'POST', '/v1/compliance/packages', {
      body: {
        framework: 'eu_ai_act',
        from: '2026-01-01T00:00:00Z',
        to: '2026-04-01T00:00:00Z',
        period_label: 'Q1 2026',
        approval_reports: [
          { action: 'okta:users:deactivate', label: 'user deactivations' },
          { action: 'okta:users:suspend', label: 'user suspensions' },
        ],
      },
    });
    expect(r.status).toBe(201);
    expect(r.json.reports).toEqual([
      'All 3 user deactivations in Q1 2026 were approved before execution.',
      '0 of 1 user suspensions in Q1 2026 were approved before execution; 1 were not.',
    ]);
    expect(r.json.counts).toMatchObject({ sealed: 7, pending: 1 });
    const get = async (key: string) =>
      Buffer.from(
        await (await s3().send(new GetObjectCommand({ Bucket: artifacts, Key: key }))).Body!.transformToByteArray(),
      );
    const pdf = await get(r.json.artifacts.pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const manifest = JSON.parse((await get(r.json.artifacts.manifest)).toString());
    const withProof = manifest.events.find((e: { event: { event_id: string } }) => e.event.event_id === ids['exec-c1']);
    verifyInclusion(
      withProof.proof.leaf_index,
      withProof.proof.tree_size,
      Buffer.from(withProof.proof.leaf_hash, 'base64'),
      withProof.proof.proof.map((x: string) => Buffer.from(x, 'base64')),
      Buffer.from(withProof.proof.root, 'base64'),
    );
    expect(manifest.controls.map((c: { control_id: string }) => c.control_id)).toEqual(
      expect.arrayContaining(['Art.12', 'Art.14']),
    );
    expect(manifest.verifier.instructions.join('\n')).toContain(`arx-verify s3://${bucket}/tenants/${T}/blocks`);
    const ld = JSON.parse((await get(r.json.artifacts.jsonld)).toString());
    expect(ld['@type']).toBe('Dataset');
    expect(ld.hasPart.length).toBeGreaterThan(0);

    const back = await call(compliance, 'GET', '/v1/compliance/packages/{id}', { params: { id: r.json.package_id } });
    expect(back.json).toEqual(r.json);
    const dl = await call(compliance, 'GET', '/v1/compliance/packages/{id}', {
      params: { id: r.json.package_id },
      query: { artifact: 'pdf' },
    });
    expect(dl.json).toMatchObject({
      content_type: 'application/pdf',
      encoding: 'base64',
      sha256: r.json.artifacts.sha256.pdf,
    });
    expect(Buffer.from(dl.json.data, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
    const ldBack = await call(compliance, 'GET', '/v1/compliance/packages/{id}', {
      params: { id: r.json.package_id },
      query: { artifact: 'jsonld' },
    });
    expect(ldBack.json['@id']).toBe(`urn:arx:package:${r.json.package_id}`);
    const foreign = await call(compliance, 'GET', '/v1/compliance/packages/{id}', {
      params: { id: r.json.package_id },
      auth: { ...auditor, tenantId: OTHER },
    });
    expect(foreign.status).toBe(404);
  });
});
