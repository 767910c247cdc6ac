/**
 * Identity benchmarks (one core, sequential):
 *  - SVID verification with a cached JWKS (the full verifySvid path: size/segment/header checks,
 *    jose jwtVerify ES256, claims, revocation + credential-state lookups served from their
 *    caches) beside a raw node:crypto P-256 verify of the same signing input;
 *  - minting excluding the KMS call (claims, JWS encoding, DER → R‖S; the "KMS" returns a
 *    pre-computed DER signature) beside a raw node:crypto P-256 sign, plus minting with a local
 *    ECDSA signer for reference.
 */
import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { loadavg, cpus } from 'node:os';
import type { BenchResult } from './run.js';
import { ManualClock } from '../test/support/clock.js';
import { MemoryKeyManager, MemoryKeyStore } from '../test/support/memory-keys.js';
import { TenantKeys, type KeyManager } from '../lambdas/identity/core/keys.js';
import { SvidIssuer } from '../lambdas/identity/core/svid.js';
import { SvidVerifier } from '../lambdas/identity/core/verify.js';

const ISSUER = 'https://arx.bench';
const AGENT = 'agt_01JAAAAAAAAAAAAAAAAAAAAAAA';
const mintReq = {
  tenantId: 'acme',
  platform: 'langchain',
  agentId: AGENT,
  ownerSub: 'owner-1',
  generation: 1,
  audience: 'arx',
  scope: ['okta:users:read'],
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Throughput of `fn` and of `baseline`, measured in alternating rounds so both see the same
 * machine load (this host is shared); each figure is the median round.
 */
async function opsPerSecondPair(
  rounds: number,
  perRound: number,
  fn: () => unknown,
  baseline: () => unknown,
): Promise<[number, number]> {
  for (let i = 0; i < 1000; i++) {
    await fn();
    await baseline();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [f, out] of [
      [fn, a],
      [baseline, b],
    ] as const) {
      const t = performance.now();
      for (let i = 0; i < perRound; i++) await f();
      out.push(perRound / ((performance.now() - t) / 1000));
    }
  }
  return [Math.round(median(a)), Math.round(median(b))];
}

async function percentiles(n: number, fn: () => unknown | Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(1000, n / 10); i++) await fn();
  const xs: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs[i] = performance.now() - t;
  }
  xs.sort((a, b) => a - b);
  const q = (p: number) => Number(xs[Math.min(n - 1, Math.floor(p * n))]!.toFixed(4));
  return { p50: q(0.5), p99: q(0.99) };
}

export async function run(): Promise<BenchResult[]> {
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const kms = new MemoryKeyManager();
  const keys = new TenantKeys(new MemoryKeyStore(), kms, clock);
  const issuer = new SvidIssuer(keys, clock, { issuerBase: ISSUER });
  const { token } = await issuer.mint(mintReq);
  const jwks = await keys.jwks('acme');
  const verifier = new SvidVerifier({
    issuerBase: ISSUER,
    clock,
    fetchJwks: async () => jwks,
    revocation: { status: async () => 'clear' },
    agentState: { get: async () => null },
  });
  await verifier.verify(token, { audience: 'arx' });

  // Raw P-256 verify of the same JWS signing input (the floor of any ES256 verifier).
  const active = await keys.activeKey('acme');
  const { pub, priv } = kms.keys.get(active.key_arn)!;
  const [h, p, s] = token.split('.');
  const input = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s!, 'base64url');
  if (!nodeVerify('sha256', input, { key: pub, dsaEncoding: 'ieee-p1363' }, sig))
    throw new Error('bench token does not verify');

  const N = 2_000;
  const ROUNDS = 15;
  const [svidVerify, rawVerify] = await opsPerSecondPair(
    ROUNDS,
    N,
    () => verifier.verify(token, { audience: 'arx' }),
    () => nodeVerify('sha256', input, { key: pub, dsaEncoding: 'ieee-p1363' }, sig),
  );

  // Minting without KMS: a "KMS" that answers with a pre-computed DER signature instantly.
  const fixedDer = nodeSign('sha256', Buffer.from('x'), { key: priv, dsaEncoding: 'der' });
  const stubKms: KeyManager = {
    ...kms,
    findProvisionedKey: (t) => kms.findProvisionedKey(t),
    createKey: (t) => kms.createKey(t),
    pointAlias: (t, a) => kms.pointAlias(t, a),
    getPublicKey: (a) => kms.getPublicKey(a),
    sign: async () => fixedDer,
  };
  const stubKeys = new TenantKeys(new MemoryKeyStore(), stubKms, clock);
  const stubIssuer = new SvidIssuer(stubKeys, clock, { issuerBase: ISSUER });
  await stubIssuer.mint(mintReq);
  const M = 20_000;
  const mintNoKms = await percentiles(M, () => stubIssuer.mint(mintReq));
  const rawSign = await percentiles(M, () => nodeSign('sha256', input, { key: priv, dsaEncoding: 'ieee-p1363' }));
  const mintLocalSign = await percentiles(M, () => issuer.mint(mintReq));

  const params = {
    cores: 1,
    sequential: true,
    alg: 'ES256',
    token_bytes: token.length,
    node: process.version,
    host_cpus: cpus().length,
    load_avg_1m: Number(loadavg()[0]!.toFixed(2)),
  };
  return [
    {
      name: 'svid_verify_cached_jwks',
      unit: 'ops/s',
      value: svidVerify,
      baseline: rawVerify,
      params: {
        ...params,
        rounds: ROUNDS,
        per_round: N,
        statistic: 'median round, interleaved with the baseline',
        target_ops_s: 5000,
        baseline: 'node:crypto P-256 verify of the same signing input',
      },
    },
    {
      name: 'svid_mint_excluding_kms_p50',
      unit: 'ms',
      value: mintNoKms.p50,
      baseline: rawSign.p50,
      params: {
        ...params,
        n: M,
        p99_ms: mintNoKms.p99,
        target_p50_ms: 0.3,
        baseline: 'node:crypto P-256 sign (ieee-p1363) p50',
      },
    },
    {
      name: 'svid_mint_local_ecdsa_p50',
      unit: 'ms',
      value: mintLocalSign.p50,
      baseline: rawSign.p50,
      params: {
        ...params,
        n: M,
        p99_ms: mintLocalSign.p99,
        note: 'mint with an in-process P-256 signer in place of KMS (DER → R‖S included)',
      },
    },
  ];
}
