/**
 * `arx verify <dir | s3://bucket/prefix> [--jwks <url|file>] [--event <event_id>] [--tsa-ca <pem>] [--require-anchored]`
 *
 * Offline verification of an ARX audit chain: over a directory of block files (as
 * GET /v1/audit/blocks/{id} returns them) or an S3 prefix (the Object Lock bucket or a customer
 * destination). Checks prev-hash links, ES256 block signatures against the tenant JWKS, Merkle
 * roots, consistency between consecutive heads, RFC 3161 tokens (imprint = block hash, TSA EKU),
 * and with --event that event's inclusion proof. No call back to ARX.
 * Exit 0 with one status line; exit 1 naming the first bad block and why; exit 2 on usage errors.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { statusLine, verifyChain, type BlockSource, type Jwk } from '../../lambdas/audit/core/verify-chain.js';

export interface VerifyArgs {
  source: string;
  jwks?: string;
  event?: string;
  tsaCa?: string;
  requireAnchored: boolean;
}

const USAGE = 'usage: arx-verify <dir | s3://bucket/prefix> [--jwks <url|file>] [--event <event_id>] [--tsa-ca <pem file>] [--require-anchored]';

export function parseArgs(args: readonly string[]): VerifyArgs | string {
  const out: Partial<VerifyArgs> = { requireAnchored: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const val = (): string | undefined => args[++i];
    if (a === '--jwks') out.jwks = val();
    else if (a === '--event') out.event = val();
    else if (a === '--tsa-ca') out.tsaCa = val();
    else if (a === '--require-anchored') out.requireAnchored = true;
    else if (a === '-h' || a === '--help') return USAGE;
    else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else if (!out.source) out.source = a;
    else return `unexpected argument ${a}\n${USAGE}`;
    if ((a === '--jwks' || a === '--event' || a === '--tsa-ca') && !args[i]) return `${a} needs a value\n${USAGE}`;
  }
  if (!out.source) return USAGE;
  return out as VerifyArgs;
}

/** Block files of a directory, ordered by name (zero-padded heights). */
export function readDir(dir: string): BlockSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') }));
}

/** Block objects under an S3 prefix, ordered by key (latest version of each). */
export async function readS3(uri: string, client = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) })): Promise<BlockSource[]> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  const bucket = m[1]!;
  const prefix = m[2] ? (m[2].endsWith('/') ? m[2] : `${m[2]}/`) : '';
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) if (o.Key?.endsWith('.json') && !o.Key.slice(prefix.length).includes('/')) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  keys.sort();
  const out: BlockSource[] = [];
  for (const k of keys) {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    out.push({ name: k, text: await r.Body!.transformToString() });
  }
  return out;
}

export async function loadJwks(where: string): Promise<Jwk[]> {
  const text = /^https?:\/\//.test(where) ? await (await fetch(where, { signal: AbortSignal.timeout(10_000) })).text() : readFileSync(where, 'utf8');
  const doc = JSON.parse(text) as { keys?: Jwk[] };
  if (!Array.isArray(doc.keys)) throw new Error('JWKS has no "keys" array');
  return doc.keys;
}

export async function run(args: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    (parsed === USAGE && (args.includes('-h') || args.includes('--help')) ? out : err)(`${parsed}\n`);
    return parsed === USAGE && (args.includes('-h') || args.includes('--help')) ? 0 : 2;
  }
  let sources: BlockSource[];
  let jwks: Jwk[] | undefined;
  try {
    sources = parsed.source.startsWith('s3://') ? await readS3(parsed.source) : readDir(parsed.source);
    jwks = parsed.jwks ? await loadJwks(parsed.jwks) : undefined;
  } catch (e) {
    err(`FAIL ${parsed.source}: ${(e as Error).message}\n`);
    return 1;
  }
  const outcome = await verifyChain(sources, {
    ...(jwks ? { jwks } : {}),
    ...(parsed.event ? { eventId: parsed.event } : {}),
    ...(parsed.tsaCa ? { tsaTrustedCertsPem: [readFileSync(parsed.tsaCa, 'utf8')] } : {}),
    requireAnchored: parsed.requireAnchored,
  });
  if (outcome.ok) {
    out(`${statusLine(outcome)}\n`);
    return 0;
  }
  out(`${statusLine(outcome)}\n`);
  return 1;
}
