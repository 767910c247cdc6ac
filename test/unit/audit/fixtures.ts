/**
 * Test fixtures for the audit chain: a local ES256 signer with its JWKS, events, chains of
 * sealed blocks, and a throwaway RFC 3161 TSA backed by `openssl ts -reply`.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import {
  GENESIS_STATE,
  headBytes,
  sealBlock,
  type AuditBlock,
  type ChainState,
} from '../../../lambdas/audit/core/block.js';
import { buildAuditEvent, type AuditEvent } from '../../../lambdas/audit/core/events.js';

const run = promisify(execFile);

export interface LocalSigner {
  kid: string;
  jwk: JWK & { kid: string };
  sign(bytes: Uint8Array): Promise<string>;
  privateKey: KeyObject;
}

export async function localSigner(): Promise<LocalSigner> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint({ kty: pub.kty!, crv: pub.crv!, x: pub.x!, y: pub.y! }, 'sha256');
  return {
    kid,
    jwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: 'ES256', use: 'sig' },
    privateKey,
    sign: async (bytes) =>
      cryptoSign('sha256', bytes, { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url'),
  };
}

let seq = 0;
export function makeEvent(
  tenant: string,
  i: number,
  over: Partial<Parameters<typeof buildAuditEvent>[0]> = {},
): AuditEvent {
  seq++;
  const at = new Date(Date.parse('2026-01-01T00:00:00Z') + seq * 1000);
  return buildAuditEvent(
    {
      tenant_id: tenant,
      event_type: 'operation.executed',
      agent_id: `agt_${i % 3}`,
      principal_spiffe_id: `spiffe://arx/${tenant}/agent/agt_${i % 3}`,
      action: 'okta:users:deactivate',
      target: `okta:user:00u${i}`,
      decision: 'permit',
      occurred_at: at.toISOString(),
      correlation_id: `cor_${i}`,
      trace_id: 'a'.repeat(32),
      payload: { params: { user_id: `00u${i}`, email: `user${i}@example.com` }, api_token: 'SSWS-secret' },
      ...over,
    },
    `evt_${String(seq).padStart(8, '0')}_${i}`,
    at,
    Buffer.alloc(32, seq % 256),
  ).event;
}

/** Seals `sizes.length` blocks of the given sizes; returns the blocks as stored. */
export async function makeChain(
  tenant: string,
  signer: LocalSigner,
  sizes: readonly number[],
  stamp?: (blockHashHex: string) => Promise<string | null>,
  sealedAt?: (height: number) => Date,
): Promise<{ blocks: AuditBlock[]; state: ChainState }> {
  let state = GENESIS_STATE;
  const blocks: AuditBlock[] = [];
  let n = 0;
  for (const size of sizes) {
    const events = Array.from({ length: size }, () => makeEvent(tenant, n++));
    // A real TSA stamps with the current time, which must follow sealed_at.
    const s = sealBlock({
      tenantId: tenant,
      prev: state,
      events,
      sealedAt: sealedAt?.(state.height + 1) ?? (stamp ? new Date() : new Date('2026-01-01T01:00:00Z')),
      kid: signer.kid,
    });
    const token = stamp ? await stamp(s.block_hash) : null;
    blocks.push({
      head: s.head,
      block_hash: s.block_hash,
      signature: await signer.sign(headBytes(s.head)),
      events,
      timestamp: token ? { token, tsa_url: 'http://tsa.test', anchored_at: '2026-01-01T01:00:01Z' } : null,
    });
    state = s.next;
  }
  return { blocks, state };
}

export const sources = (blocks: readonly AuditBlock[]) =>
  blocks.map((b) => ({ name: `${String(b.head.height).padStart(12, '0')}.json`, text: JSON.stringify(b) }));

export interface LocalTsa {
  url: string;
  caPem: string;
  /** Make the next requests fail with HTTP 503 (TSA outage). */
  setDown(down: boolean): void;
  requests: number;
  close(): Promise<void>;
}

/**
 * A throwaway timestamp authority: a CA and a TSA certificate (extendedKeyUsage critical,
 * timeStamping) made with openssl in a temp dir, served over HTTP by `openssl ts -reply`.
 */
export async function startLocalTsa(): Promise<LocalTsa> {
  const dir = mkdtempSync(join(tmpdir(), 'arx-tsa-'));
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=ARX Test TSA Root',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  await o(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tsa.key',
    '-out',
    'tsa.csr',
    '-subj',
    '/CN=ARX Test TSA',
  );
  writeFileSync(
    join(dir, 'ext.cnf'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n',
  );
  await o(
    'x509',
    '-req',
    '-in',
    'tsa.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tsa.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ts.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa_config1',
      '[ tsa_config1 ]',
      `dir = ${dir}`,
      'serial = $dir/serial',
      'crypto_device = builtin',
      'signer_cert = $dir/tsa.pem',
      'certs = $dir/ca.pem',
      'signer_key = $dir/tsa.key',
      'signer_digest = sha256',
      'default_policy = 1.2.3.4.1',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1',
      'ordering = no',
      'tsa_name = yes',
      'ess_cert_id_chain = no',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  );
  let down = false;
  let n = 0;
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      if (down || req.method !== 'POST') {
        res.writeHead(503).end();
        return;
      }
      const id = ++n;
      const q = join(dir, `q${id}.tsq`);
      const r = join(dir, `r${id}.tsr`);
      writeFileSync(q, Buffer.concat(chunks));
      run('openssl', ['ts', '-reply', '-config', join(dir, 'ts.cnf'), '-queryfile', q, '-out', r]).then(
        () => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(readFileSync(r)),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}/tsr`,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    setDown: (d) => {
      down = d;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        }),
      ),
  };
}
