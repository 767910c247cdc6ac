/**
 * PDP benchmark on the reference workload (../shared/bench/cedar-workload.cjs): guardrail forbids,
 * group-, agent- and action-scoped permits over 10,000 entities.
 *
 * For 10, 100 and 1,000 policies: warm decision latency (p50/p99) and throughput of ARX's indexed
 * engine, each beside raw cedar-wasm (`statefulIsAuthorized` with the whole set preparsed) on the
 * same requests with the workload's own entity slices. Then: bundle hot swap (parse + verify +
 * index → live) against a raw `preparsePolicySet` of the same set, and the resident memory of a
 * child process running the extension's PDP stack (bundle, 100,000 revoked ids, localhost server)
 * against one that only holds cedar-wasm with the preparsed set.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './run.js';
import { cedar, type EntityJson } from '../lambdas/policy/core/cedar.js';
import { PolicyEngine, indexPolicies, type IndexedPolicy } from '../lambdas/policy/core/engine.js';
import {
  digestOf,
  encodeBundle,
  BUNDLE_FORMAT,
  type BundleContent,
  type BundleSignature,
  type SignedBundle,
} from '../lambdas/policy/core/bundle.js';
import { buildBloom } from '../lambdas/policy/core/bloom.js';
import { TenantBundlePdp } from '../lambdas/policy/core/decision-point.js';
import { systemClock } from '../lambdas/shared/clock.js';
import { ManualClock } from '../test/support/clock.js';

const require = createRequire(import.meta.url);
interface WorkloadReq {
  principal: { type: string; id: string };
  action: { type: string; id: string };
  resource: { type: string; id: string };
  context: Record<string, never>;
  slice: EntityJson[];
}
// The reference workload lives beside the repo (../shared). Memory children run a bundled copy of
// this file from a temp dir, so the parent resolves the path once and hands it down in the env.
process.env.ARX_CEDAR_WORKLOAD ??= fileURLToPath(new URL('../../shared/bench/cedar-workload.cjs', import.meta.url));
const { build } = require(process.env.ARX_CEDAR_WORKLOAD) as {
  build(
    nPolicies: number,
    nEntities: number,
    nReq?: number,
  ): { meta: { ents: EntityJson[] }; policies: string; reqs: WorkloadReq[] };
};

const N_ENTITIES = 10_000;
const N_REQ = 2_000;
const SIZES = [10, 100, 1000];
const WARM_PASSES = 3;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function time(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

function signer() {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    sign: (digest: string): BundleSignature => ({
      kid: 'bench',
      alg: 'ES256',
      sig: cryptoSign('sha256', Buffer.from(digest), kp.privateKey).toString('base64'),
    }),
    verify: async (_t: string, digest: string, s: BundleSignature) =>
      s.kid === 'bench' && cryptoVerify('sha256', Buffer.from(digest), kp.publicKey, Buffer.from(s.sig, 'base64')),
  };
}

function bundleFor(
  tenant: string,
  version: number,
  policies: IndexedPolicy[],
  entities: EntityJson[],
  sign: (d: string) => BundleSignature,
): SignedBundle {
  const content: BundleContent = {
    format_version: BUNDLE_FORMAT,
    tenant_id: tenant,
    bundle_id: `pb_bench_${version}`,
    version,
    created_at: new Date(0).toISOString(),
    source_format: 'cedar',
    schema: '',
    policies,
    entities,
    risk: [],
    action_patterns: [],
    revoked_bloom: buildBloom([]),
  };
  const digest = digestOf(content);
  return { ...content, digest, signature: sign(digest) };
}

async function latency(n: number): Promise<BenchResult[]> {
  const w = build(n, N_ENTITIES, N_REQ);
  const setId = `bench-raw-${n}`;
  const prep = cedar.preparsePolicySet(setId, { staticPolicies: w.policies });
  if (prep.type !== 'success') throw new Error('workload does not parse');
  const engine = new PolicyEngine({ policies: indexPolicies(w.policies), entities: w.meta.ents });
  const raw = (q: WorkloadReq) =>
    cedar.statefulIsAuthorized({
      principal: q.principal,
      action: q.action,
      resource: q.resource,
      context: q.context,
      preparsedPolicySetId: setId,
      entities: q.slice,
    });
  const arx = (q: WorkloadReq) =>
    engine.authorize({ principal: q.principal, action: q.action, resource: q.resource, context: q.context });

  // cold pass (first sight of each request: ARX preparses its buckets lazily), then warm pass
  const coldArx = w.reqs.map((q) => time(() => arx(q)));
  const coldRaw = w.reqs.map((q) => time(() => raw(q)));
  let mismatches = 0;
  for (const q of w.reqs) {
    const a = arx(q);
    const b = raw(q);
    if (
      a.type !== 'response' ||
      b.type !== 'success' ||
      a.decision !== b.response.decision ||
      a.errors.length !== b.response.diagnostics.errors.length
    )
      mismatches++;
  }
  // three warm passes (interleaved per request); each side reports its least-disturbed pass (lowest p99)
  const passes: { arx: number[]; raw: number[] }[] = [];
  for (let p = 0; p < WARM_PASSES; p++) {
    const pa: number[] = [];
    const pr: number[] = [];
    for (const q of w.reqs) {
      pr.push(time(() => raw(q)));
      pa.push(time(() => arx(q)));
    }
    passes.push({ arx: pa, raw: pr });
  }
  const warmArx = passes.map((x) => x.arx).sort((a, b) => pct(a, 0.99) - pct(b, 0.99))[0]!;
  const warmRaw = passes.map((x) => x.raw).sort((a, b) => pct(a, 0.99) - pct(b, 0.99))[0]!;
  const thrArx = N_REQ / (warmArx.reduce((a, b) => a + b, 0) / 1000);
  const thrRaw = N_REQ / (warmRaw.reduce((a, b) => a + b, 0) / 1000);
  const params = {
    policies: n,
    entities: N_ENTITIES,
    requests: N_REQ,
    warm_passes: WARM_PASSES,
    pass_reported: 'lowest p99 of the warm passes, same rule for both sides',
    load_average_1m: Number(loadavg()[0]!.toFixed(2)),
    cpus: cpus().length,
    decision_mismatches_vs_raw: mismatches,
    baseline: 'raw cedar-wasm statefulIsAuthorized, whole set preparsed, workload entity slice',
  };
  engine.dispose();
  cedar.preparsePolicySet(setId, { staticPolicies: {} });
  return [
    {
      name: `warm p50 latency @${n} policies`,
      unit: 'ms',
      value: r3(pct(warmArx, 0.5)),
      baseline: r3(pct(warmRaw, 0.5)),
      params,
    },
    {
      name: `warm p99 latency @${n} policies`,
      unit: 'ms',
      value: r3(pct(warmArx, 0.99)),
      baseline: r3(pct(warmRaw, 0.99)),
      params,
    },
    {
      name: `warm throughput @${n} policies`,
      unit: 'decisions/s',
      value: Math.round(thrArx),
      baseline: Math.round(thrRaw),
      params,
    },
    {
      name: `first-pass p99 latency @${n} policies (lazy bucket preparse)`,
      unit: 'ms',
      value: r3(pct(coldArx, 0.99)),
      baseline: r3(pct(coldRaw, 0.99)),
      params,
    },
  ];
}

export async function hotSwap(): Promise<BenchResult[]> {
  const w = build(1000, N_ENTITIES, 200);
  const s = signer();
  const policies = indexPolicies(w.policies);
  const tenant = 'bench';
  const bodies = [1, 2, 3, 4, 5, 6].map((v) => encodeBundle(bundleFor(tenant, v, policies, w.meta.ents, s.sign)));
  let current = 0;
  const clock = new ManualClock();
  const pdp = new TenantBundlePdp({
    source: { fetchLive: async () => ({ status: 'ok' as const, etag: `"${current}"`, bundle: bodies[current]! }) },
    signer: s,
    revocation: { status: async () => 'clear' },
    principals: { status: async () => ({ ok: true as const }) }, // inventory lookups are cache hits in steady state
    clock,
  });
  const swaps: number[] = [];
  for (let i = 0; i < bodies.length; i++) {
    current = i;
    const t = performance.now();
    await pdp.refresh(tenant);
    swaps.push(performance.now() - t);
    const live = await pdp.live(tenant);
    if (live?.content.version !== i + 1) throw new Error(`swap ${i} did not go live: ${pdp.lastError(tenant)}`);
  }
  // first request per action after a swap preparses its bucket (off the swap, on the first decision)
  const q = w.reqs[0]!;
  const firstDecision = time(() => void 0);
  const t0 = performance.now();
  await pdp.decide({
    tenantId: tenant,
    principal: q.principal,
    action: q.action.id,
    resource: q.resource,
    context: q.context,
  });
  const firstAfterSwap = performance.now() - t0 + firstDecision;
  const naive = [1, 2, 3].map((i) =>
    time(() => cedar.preparsePolicySet(`bench-swap-${i}`, { staticPolicies: w.policies })),
  );
  for (const i of [1, 2, 3]) cedar.preparsePolicySet(`bench-swap-${i}`, { staticPolicies: {} });
  const warmSwaps = swaps.slice(1);
  const params = {
    policies: 1000,
    entities: N_ENTITIES,
    bundle_bytes: bodies[0]!.length,
    swaps: warmSwaps.length,
    includes:
      'SHA-256 of the downloaded bytes + ECDSA verify, JSON.parse, index + entity store build, pointer flip, dispose of the old engine',
    baseline: 'raw cedar-wasm preparsePolicySet of the same 1,000 policies',
  };
  return [
    {
      name: 'bundle hot swap (median) @1000 policies',
      unit: 'ms',
      value: r3(pct(warmSwaps, 0.5)),
      baseline: r3(pct(naive, 0.5)),
      params,
    },
    {
      name: 'bundle hot swap (max) @1000 policies',
      unit: 'ms',
      value: r3(Math.max(...warmSwaps)),
      baseline: r3(Math.max(...naive)),
      params,
    },
    {
      name: 'first decision after a swap @1000 policies (bucket preparse)',
      unit: 'ms',
      value: r3(firstAfterSwap),
      params: { policies: 1000 },
    },
  ];
}

// ---------------------------------------------------------------- memory (child processes)

let childScript: string | null = null;
/** The bench bundled like the extension (esbuild ESM + cedar-wasm beside it), run by plain node. */
async function childEntry(): Promise<string> {
  if (!childScript) {
    const { bundleEntry } = await import('../layers/pdp-extension/build.js');
    childScript = await bundleEntry(
      fileURLToPath(import.meta.url),
      mkdtempSync(join(tmpdir(), 'arx-pdp-bench-')),
      'bench-child',
    );
  }
  return childScript;
}

async function childRss(
  mode: 'extension' | 'raw',
  reqs: readonly string[],
): Promise<{ rss_mb: number; revoked?: number; decisions?: number; permits?: number }> {
  const script = await childEntry();
  const { NODE_FLAGS, LAUNCH_ENV } = await import('../layers/pdp-extension/build.js');
  const c = spawn(process.execPath, ['--expose-gc', ...(mode === 'extension' ? NODE_FLAGS : []), script], {
    env: { ...process.env, ...(mode === 'extension' ? LAUNCH_ENV : {}), ARX_PDP_BENCH_CHILD: mode },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
  const firstLine = await new Promise<string>((resolve, reject) => {
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    void exited.then((code) => reject(new Error(`memory child ${mode} exited ${code}: ${out}`)));
  });
  const msg = JSON.parse(firstLine) as { port?: number; rss_mb: number; decisions?: number };
  if (mode === 'raw') return msg;
  let permits = 0;
  for (const q of reqs) {
    // the bench's caller names its agent in a header (production: ARX_AGENT_ID or the agent's SVID)
    const r = await fetch(`http://127.0.0.1:${msg.port}/v1/decide`, {
      method: 'POST',
      body: q,
      headers: { 'x-bench-agent': (JSON.parse(q) as { principal: { id: string } }).principal.id },
    });
    if (((await r.json()) as { effect: string }).effect === 'permit') permits++;
  }
  const health = (await (await fetch(`http://127.0.0.1:${msg.port}/v1/health`)).json()) as {
    rss_mb: number;
    revoked: number;
  };
  c.kill('SIGTERM');
  await exited;
  return { ...health, decisions: reqs.length, permits };
}

async function memoryChild(mode: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (mode === 'raw') {
    const w = build(1000, N_ENTITIES, N_REQ);
    cedar.preparsePolicySet('raw', { staticPolicies: w.policies });
    for (const q of w.reqs)
      cedar.statefulIsAuthorized({
        principal: q.principal,
        action: q.action,
        resource: q.resource,
        context: q.context,
        preparsedPolicySetId: 'raw',
        entities: q.slice,
      });
    const n = w.reqs.length;
    (w as { reqs: unknown; meta: unknown }).reqs = null;
    (w as { reqs: unknown; meta: unknown }).meta = null;
    gc?.();
    process.stdout.write(`${JSON.stringify({ rss_mb: r3(process.memoryUsage().rss / 2 ** 20), decisions: n })}\n`);
    return;
  }
  // the extension receives an already indexed, signed bundle: the parent wrote it (and the wire requests) to files
  const body = readFileSync(process.env.ARX_PDP_BENCH_BUNDLE!, 'utf8');
  const verifier = createPublicKey(readFileSync(process.env.ARX_PDP_BENCH_KEY!, 'utf8'));
  const verify = async (_t: string, digest: string, sg: BundleSignature) =>
    cryptoVerify('sha256', Buffer.from(digest), verifier, Buffer.from(sg.sig, 'base64'));
  const s = { verify };
  const tenant = 'bench';
  const stages: Record<string, number> = {};
  const stage = (name: string): void => {
    gc?.();
    const m = process.memoryUsage();
    stages[name] = r3(m.rss / 2 ** 20);
    stages[`${name}_heap`] = r3(m.heapUsed / 2 ** 20);
  };
  stage('files_read');
  const { DeltaRevocationCache } = await import('../layers/pdp-extension/src/revocation-cache.js');
  const { startPdpServer } = await import('../layers/pdp-extension/src/server.js');
  // 100,000 revoked ids served as revocation deltas in pages of 1,000
  const N_REVOKED = 100_000;
  const drl = {
    deltasSince: async (_t: string, cursor: string | null, limit = 1000) => {
      const start = cursor ? Number(cursor) : 0;
      const end = Math.min(N_REVOKED, start + limit);
      const entries = [];
      for (let i = start; i < end; i++) {
        entries.push({
          tenant_id: tenant,
          agent_id: `agt_revoked_${String(i).padStart(6, '0')}`,
          spiffe_id: `spiffe://bench.arx/x/agt_revoked_${i}`,
          revoked_at: '2026-01-01T00:00:00Z',
          reason_code: 'terminated' as const,
          ttl_until: '2099-01-01T00:00:00Z',
        });
      }
      return { entries, cursor: String(end) };
    },
  };
  const revocation = new DeltaRevocationCache(drl, tenant, systemClock, 60_000);
  await revocation.poll();
  stage('revocations_loaded');
  const pdp = new TenantBundlePdp({
    source: { fetchLive: async () => ({ status: 'ok' as const, etag: '"1"', bundle: body }) },
    signer: s,
    revocation,
    principals: { status: async () => ({ ok: true as const }) }, // inventory lookups are cache hits in steady state
    clock: systemClock,
    pollMs: Number.MAX_SAFE_INTEGER,
    setCacheSize: 256, // the extension's default (ARX_PDP_SET_CACHE)
  });
  await pdp.refresh(tenant);
  stage('bundle_live');
  // the load generator (the function) is another process: the parent sends the requests
  const server = await startPdpServer(
    {
      tenantId: tenant,
      pdp,
      identity: {
        agentOf: async (h) =>
          typeof h['x-bench-agent'] === 'string' ? { agentId: h['x-bench-agent'] } : { error: 'no agent' },
      },
      health: () => {
        gc?.();
        const m = process.memoryUsage();
        return {
          rss_mb: r3(m.rss / 2 ** 20),
          heap_used_mb: r3(m.heapUsed / 2 ** 20),
          heap_total_mb: r3(m.heapTotal / 2 ** 20),
          external_mb: r3(m.external / 2 ** 20),
          revoked: revocation.size,
          stages,
        };
      },
    },
    0,
  );
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => server.close(() => resolve())));
}

export async function memory(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'arx-pdp-mem-'));
  const w = build(1000, N_ENTITIES, N_REQ);
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sign = (digest: string): BundleSignature => ({
    kid: 'bench',
    alg: 'ES256',
    sig: cryptoSign('sha256', Buffer.from(digest), kp.privateKey).toString('base64'),
  });
  writeFileSync(join(dir, 'bundle'), encodeBundle(bundleFor('bench', 1, indexPolicies(w.policies), w.meta.ents, sign)));
  writeFileSync(join(dir, 'key.pem'), kp.publicKey.export({ type: 'spki', format: 'pem' }));
  process.env.ARX_PDP_BENCH_BUNDLE = join(dir, 'bundle');
  process.env.ARX_PDP_BENCH_KEY = join(dir, 'key.pem');
  const reqs = w.reqs.map((q) =>
    JSON.stringify({ principal: q.principal, action: q.action.id, resource: q.resource, context: q.context }),
  );
  const ext = await childRss('extension', reqs);
  const raw = await childRss('raw', []);
  return [
    {
      name: 'PDP extension stack resident memory (1,000 policies, 10,000 entities, 100,000 revoked ids, 2,000 decisions over localhost)',
      unit: 'MB',
      value: ext.rss_mb,
      baseline: raw.rss_mb,
      params: {
        ...ext,
        baseline: 'process holding only cedar-wasm with the same 1,000 policies preparsed after 2,000 raw decisions',
        target_mb: 150,
        note: 'child process: the extension modules (TenantBundlePdp, DeltaRevocationCache, localhost server) bundled like the layer and run by plain node, bundle and revocation deltas from memory; the 2,000 requests come from the parent over localhost',
      },
    },
  ];
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const n of SIZES) out.push(...(await latency(n)));
  out.push(...(await hotSwap()));
  out.push(...(await memory()));
  return out;
}

if (process.env.ARX_PDP_BENCH_CHILD) {
  memoryChild(process.env.ARX_PDP_BENCH_CHILD).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
