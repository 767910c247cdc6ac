import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../../lambdas/shared/aws.js';
import { systemClock } from '../../../lambdas/shared/clock.js';
import { RecordingPublisher } from '../../support/events.js';
import { DynamoRevocationList } from '../../../lambdas/shared/revocation.js';
import { freePort } from '../../../local/moto.js';
import { S3BundleStore } from '../../../lambdas/policy/adapters/s3-bundles.js';
import { DynamoVersionCounter, RevocationTableIds } from '../../../lambdas/policy/adapters/dynamo-control.js';
import { PolicyService } from '../../../lambdas/policy/core/service.js';
import { digestOf, contentOf, encodeBundle } from '../../../lambdas/policy/core/bundle.js';
import { ExtensionDecisionPoint } from '../../../layers/pdp-extension/src/client.js';
import type { Decision, DecisionPoint } from '../../../lambdas/shared/ports.js';
import { FakeExtensionsApi } from './fake-extensions-api.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayer, NODE_FLAGS } from '../../../layers/pdp-extension/build.js';
import { createServer, type Server } from 'node:http';
import type { TenantKeys } from '../../../lambdas/identity/core/keys.js';
import { SvidIssuer } from '../../../lambdas/identity/core/svid.js';
import { newId } from '../../../lambdas/shared/ids.js';
import { EnforcementLogBody } from '../../../lambdas/policy/schemas.js';
import { inventoryOf, policyResources, revocationEntry, tenantSignerOf } from './fixtures.js';
import { ACCESS_REVIEW_SHORT } from '../../support/fixtures.js';

const V1 = ACCESS_REVIEW_SHORT;
const V2 =
  '- name: okta-read-only\n  connector: okta\n  operations: { "users:read*": low, "users:deactivate": critical }\n  risk_max: high\n';

async function waitFor<T>(
  f: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (ok(v)) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PDP extension process', () => {
  const tenant = `t-${Math.random().toString(36).slice(2, 8)}`;
  let r: Awaited<ReturnType<typeof policyResources>>;
  let service: PolicyService;
  let store: S3BundleStore;
  let drl: DynamoRevocationList;
  const api = new FakeExtensionsApi();
  let child: ChildProcess;
  let port: number;
  let stdout = '';
  let v1: { bundle_id: string; version: number };

  // the tenant's keys (KMS + key registry), published as ARX does (GET /tenants/<t>/.well-known/jwks.json):
  // they sign the bundles and the SVIDs, and the extension verifies both with them
  let keys: TenantKeys;
  let jwksServer: Server;
  const logged: {
    authorization: string;
    ok: boolean;
    events: { agent_id: string; action_name: string; decision: string; pep_topology: string }[];
  }[] = [];
  let issuerBase: string;
  // SVID subjects carry ULID agent ids: readable test names map to real ids
  const ids = new Map<string, string>();
  const A = (name: string): string => {
    if (!ids.has(name)) ids.set(name, newId('agt'));
    return ids.get(name)!;
  };
  const svidOf = async (agent: string, tenantId = tenant) =>
    (
      await new SvidIssuer(keys, systemClock, { issuerBase }).mint({
        tenantId,
        platform: 'langchain',
        agentId: A(agent),
        ownerSub: 'owner-1',
        generation: 1,
        audience: 'arx',
      })
    ).token;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${port}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  const decide = async (action: string, agent = 'agt_1'): Promise<Decision> => {
    const res = await post(
      { principal: { type: 'Agent', id: A(agent) }, action },
      { authorization: `Bearer ${await svidOf(agent)}` },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as Decision;
  };
  const health = async () =>
    (await (await fetch(`http://127.0.0.1:${port}/v1/health`)).json()) as Record<string, unknown>;

  beforeAll(async () => {
    r = await policyResources('ext');
    const signer = tenantSignerOf(r);
    keys = signer.keys;
    store = new S3BundleStore(r.bucket);
    drl = new DynamoRevocationList(r.revocationTable);
    service = new PolicyService({
      repo: store,
      versions: new DynamoVersionCounter(r.controlTable),
      signer: signer.bundles,
      revoked: new RevocationTableIds(drl, systemClock),
      events: new RecordingPublisher(),
      clock: systemClock,
    });
    const inv = inventoryOf(r);
    for (const a of ['agt_1', 'agt_victim', 'agt_other', 'agt_suspended']) await inv.register(tenant, A(a));
    await inv.set(tenant, A('agt_suspended'), { status: 'suspended' });
    v1 = await service.push(tenant, { format: 'yaml', document: V1 });
    await service.promote(tenant, v1.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' });
    jwksServer = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/v1/enforcement/log') {
        // stands in for the API: the body must pass the route's own schema
        let data = '';
        req.on('data', (c: Buffer) => (data += c.toString()));
        req.on('end', () => {
          const parsed = EnforcementLogBody.safeParse(JSON.parse(data));
          logged.push({
            authorization: String(req.headers.authorization ?? ''),
            ok: parsed.success,
            events: parsed.success ? parsed.data.events : [],
          });
          res.writeHead(parsed.success ? 202 : 400, { 'content-type': 'application/json' }).end('{}');
        });
        return;
      }
      const m = /^\/tenants\/([^/]+)\/\.well-known\/jwks\.json$/.exec(req.url ?? '');
      void (m ? keys.jwks(decodeURIComponent(m[1]!)) : Promise.resolve(null)).then((j) => {
        res.writeHead(j ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(j ?? {}));
      });
    });
    await new Promise<void>((ok) => jwksServer.listen(0, '127.0.0.1', ok));
    issuerBase = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}`;
    const runtimeApi = await api.start();
    port = await freePort();
    // the layer exactly as deployed: esbuild bundle + cedar-wasm, run by plain node
    const layer = mkdtempSync(join(tmpdir(), 'arx-pdp-layer-'));
    await buildLayer(layer);
    child = spawn(process.execPath, [...NODE_FLAGS, join(layer, 'arx-pdp', 'index.mjs')], {
      cwd: layer,
      env: {
        ...process.env,
        AWS_LAMBDA_RUNTIME_API: runtimeApi,
        ARX_TENANT_ID: tenant,
        ARX_BUNDLE_BUCKET: r.bucket,
        ARX_REVOCATION_TABLE: r.revocationTable,
        ARX_INVENTORY_TABLE: r.inventoryTable,
        ARX_SVID_ISSUER_BASE: issuerBase,
        ARX_API_URL: issuerBase,
        ARX_AGENT_ID: '',
        ARX_PDP_PORT: String(port),
        ARX_PDP_MANIFEST_POLL_MS: '300',
        ARX_PDP_REVOCATION_POLL_MS: '250',
        ARX_CONTROL_TABLE: '',
        ARX_EVENT_BUS: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stdout += d.toString()));
    await Promise.race([
      api.initDone,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`extension did not finish INIT: ${stdout}`)), 60_000)),
    ]);
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await api.stop();
    await new Promise<void>((ok) => jwksServer.close(() => ok()));
  });

  it('registers as an external extension for INVOKE and SHUTDOWN', () => {
    expect(api.registered).toEqual({ name: 'arx-pdp', events: ['INVOKE', 'SHUTDOWN'] });
    expect(api.initErrors).toEqual([]);
  });

  it('loaded the live bundle during INIT and answers decisions on localhost', async () => {
    expect(await decide('okta:users:deactivate')).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      bundle_version: String(v1.version),
    });
    expect(await decide('okta:users:delete')).toMatchObject({ effect: 'forbid' });
    const bad = await post({ principal: { type: 'User', id: 'x' }, action: 'okta:users:read' });
    expect(bad.status).toBe(400);
  });

  it('refuses a revoked agent within 1 s of its revocation-list entry', async () => {
    expect((await decide('okta:users:read', 'agt_victim')).effect).toBe('permit');
    await drl.revoke(revocationEntry(tenant, A('agt_victim')));
    const { value, ms } = await waitFor(
      () => decide('okta:users:read', 'agt_victim'),
      (d) => d.effect === 'forbid',
      3000,
    );
    // Refused within 1 s. On a loaded machine the first refusal can be the fail-closed one (the
    // revocation cache went stale between polls); the entry itself is then read within the wait.
    expect(ms).toBeLessThanOrEqual(1000);
    expect(['principal is revoked', 'revocation status unavailable']).toContain(value.errors[0]);
    const revoked = await waitFor(
      () => decide('okta:users:read', 'agt_victim'),
      (d) => d.errors.includes('principal is revoked'),
      3000,
    );
    expect(revoked.value).toMatchObject({ effect: 'forbid', errors: ['principal is revoked'] });
    const other = await waitFor(
      () => decide('okta:users:read', 'agt_other'),
      (d) => d.effect === 'permit',
      3000,
    );
    expect(other.value.effect).toBe('permit');
  });

  it('F21a: refuses a caller without an SVID and one asking as a sibling agent', async () => {
    const body = { principal: { type: 'Agent', id: A('agt_1') }, action: 'okta:users:read' };
    expect((await post(body)).status).toBe(401);
    // a terminated agent's code holding its own SVID names a sibling of the tenant
    const sibling = await post(body, { authorization: `Bearer ${await svidOf('agt_victim')}` });
    expect(sibling.status).toBe(403);
    expect(await sibling.json()).toEqual({ error: 'the caller may only ask about its own agent' });
    expect((await post(body, { authorization: `Bearer ${await svidOf('agt_1', `${tenant}-other`)}` })).status).toBe(
      401,
    );
    expect((await post(body, { authorization: 'Bearer not.a.jwt' })).status).toBe(401);
  });

  it('F14: records decisions through POST /v1/enforcement/log with the calling agent SVID, not with the function role', async () => {
    const token = await svidOf('agt_other');
    await post(
      { principal: { type: 'Agent', id: A('agt_other') }, action: 'okta:users:deactivate' },
      { authorization: `Bearer ${token}` },
    );
    const { value } = await waitFor(
      async () => logged.filter((l) => l.authorization === `Bearer ${token}`),
      (l) => l.some((x) => x.events.some((e) => e.action_name === 'okta:users:deactivate')),
      5000,
    );
    expect(value.every((l) => l.ok)).toBe(true);
    expect(value.flatMap((l) => l.events)).toContainEqual(
      expect.objectContaining({
        agent_id: A('agt_other'),
        action_name: 'okta:users:deactivate',
        decision: 'permit',
        pep_topology: 'lambda-extension',
      }),
    );
  });

  it('forbids an agent that is not in the inventory and a suspended one, naming the status', async () => {
    expect(await decide('okta:users:read', 'agt_not_registered')).toMatchObject({
      effect: 'forbid',
      reason: 'principal_unknown',
    });
    expect(await decide('okta:users:read', 'agt_suspended')).toMatchObject({
      effect: 'forbid',
      reason: 'principal_suspended',
      errors: ['principal is suspended'],
    });
  });

  it('hot-swaps to a newly promoted bundle on the manifest poll', async () => {
    api.send({ eventType: 'INVOKE', requestId: 'r1', deadlineMs: Date.now() + 3000 });
    const v2 = await service.push(tenant, { format: 'yaml', document: V2 });
    await service.promote(tenant, v2.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' });
    const { value } = await waitFor(
      () => decide('okta:users:deactivate'),
      (d) => d.bundle_version === String(v2.version),
      5000,
    );
    expect(value).toMatchObject({ effect: 'forbid', bundle_version: String(v2.version) });
  });

  it("refuses a live bundle signed with another tenant's key and keeps the last-known-good one", async () => {
    const liveBefore = (await decide('okta:users:read')).bundle_version;
    const manifest = (await store.getLive(tenant))!;
    const good = (await store.get(tenant, manifest.bundle_id))!;
    // the old defect: this tenant's content, signed by another tenant's (e.g. the first tenant's) key
    const foreign = { ...good, bundle_id: 'pb_foreign', version: 998 };
    const digest = digestOf(contentOf(foreign));
    const signed = { ...foreign, digest, signature: await tenantSignerOf(r).bundles.sign(`${tenant}-first`, digest) };
    await s3Client().send(
      new PutObjectCommand({ Bucket: r.bucket, Key: store.keyOf(tenant, 'pb_foreign'), Body: encodeBundle(signed) }),
    );
    await store.putLive({
      ...manifest,
      bundle_id: 'pb_foreign',
      version: 998,
      digest,
      key: store.keyOf(tenant, 'pb_foreign'),
    });

    await waitFor(health, (h) => h.bundle_error === 'bundle signature is invalid', 5000);
    expect((await decide('okta:users:read')).bundle_version).toBe(liveBefore);
    // a genuine bundle promoted afterwards loads and clears the error
    const next = await service.push(tenant, { format: 'yaml', document: V2 });
    await service.promote(tenant, next.bundle_id, 'admin', { correlation_id: 'c', trace_id: 't' });
    await waitFor(health, (h) => h.bundle_error === null && h.bundle_version === next.version, 5000);
  });

  it('keeps the last-known-good bundle when the live pointer names a tampered bundle', async () => {
    const liveBefore = (await decide('okta:users:read')).bundle_version;
    const good = (await store.get(tenant, v1.bundle_id))!;
    const forged = { ...good, bundle_id: 'pb_forged', version: 999, risk: [] };
    const content = contentOf(forged);
    const tampered = { ...forged, digest: digestOf(content) }; // digest recomputed, signature left as is
    await s3Client().send(
      new PutObjectCommand({ Bucket: r.bucket, Key: store.keyOf(tenant, 'pb_forged'), Body: encodeBundle(tampered) }),
    );
    await s3Client().send(
      new PutObjectCommand({
        Bucket: r.bucket,
        Key: `tenants/${tenant}/live.json`,
        Body: JSON.stringify({
          tenant_id: tenant,
          bundle_id: 'pb_forged',
          version: 999,
          digest: tampered.digest,
          key: store.keyOf(tenant, 'pb_forged'),
          promoted_at: new Date().toISOString(),
          promoted_by: 'mallory',
        }),
      }),
    );
    await waitFor(health, (h) => h.bundle_error === 'bundle signature is invalid', 5000);
    expect((await decide('okta:users:read')).bundle_version).toBe(liveBefore);
  });

  it('lets the function-side client use the extension and fall back in process when it is gone', async () => {
    const fallbackDecision: Decision = {
      effect: 'forbid',
      approval: 'none',
      risk: 'high',
      determining_policies: [],
      errors: ['fallback'],
      evaluation_ms: 0,
      bundle_version: null,
    };
    const fallback: DecisionPoint = { decide: async () => fallbackDecision };
    const viaExt = new ExtensionDecisionPoint({ fallback, port, svid: () => svidOf('agt_1') });
    expect(
      (
        await viaExt.decide({
          tenantId: tenant,
          principal: { type: 'Agent', id: A('agt_1') },
          action: 'okta:users:read',
        })
      ).effect,
    ).toBe('permit');
    expect(viaExt.fallbacks).toBe(0);
    const dead = new ExtensionDecisionPoint({ fallback, port: await freePort() });
    expect(
      await dead.decide({ tenantId: tenant, principal: { type: 'Agent', id: A('agt_1') }, action: 'okta:users:read' }),
    ).toEqual(fallbackDecision);
    expect(dead.fallbacks).toBe(1);
  });

  it('exits cleanly on SHUTDOWN', async () => {
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    api.send({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: Date.now() + 2000 });
    expect(await exited).toBe(0);
    expect(stdout).toContain('"msg":"shutdown"');
  });
});
