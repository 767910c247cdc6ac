/**
 * `arx verify <dir | s3://bucket/prefix> (--audit-keys <url|file> | --unsigned) [--expect-head <hash>] [--min-height N]
 *            [--event <event_id>] [--tsa-ca <pem>] [--require-anchored] [--max-anchor-lag <seconds>]`
 *
 * Offline verification of an ARX audit chain: over a directory of block files (as
 * GET /v1/audit/blocks/{id} returns them) or an S3 prefix (the Object Lock bucket or a customer
 * destination; every stored version of each block is read, and a rewritten version fails).
 * Checks prev-hash links, ES256 block signatures against the tenant's audit key set
 * (GET /tenants/{t}/.well-known/audit-keys.json: keys are never removed from it), Merkle roots,
 * consistency between consecutive heads, RFC 3161 tokens (imprint = block hash, TSA EKU, genTime
 * after sealed_at), truncation against --expect-head / --min-height, and with --event that
 * event's inclusion proof. No call back to ARX.
 * Exit 0 with one status line; exit 1 naming the first bad block and why; exit 2 on usage errors.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { statusLine, verifyChain, type BlockSource, type Jwk } from '../../lambdas/audit/index.js';

export interface VerifyArgs {
  source: string;
  keys?: string;
  unsigned: boolean;
  expectHead?: string;
  minHeight?: number;
  event?: string;
  tsaCa?: string;
  requireAnchored: boolean;
  maxAnchorLagS?: number;
}

const USAGE =
  'usage: arx-verify <dir | s3://bucket/prefix> (--audit-keys <url|file> | --unsigned) [--expect-head <hash>] [--min-height N] ' +
  '[--event <event_id>] [--tsa-ca <pem file> [--require-anchored]] [--max-anchor-lag <seconds>]';

const VALUED = new Set([
  '--audit-keys',
  '--jwks',
  '--expect-head',
  '--min-height',
  '--event',
  '--tsa-ca',
  '--max-anchor-lag',
]);

export function parseArgs(args: readonly string[]): VerifyArgs | string {
  const out: Partial<VerifyArgs> = { requireAnchored: false, unsigned: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUED.has(a)) {
      const v = args[++i];
      if (v === undefined || v === '') return `${a} needs a value\n${USAGE}`;
      if (a === '--audit-keys' || a === '--jwks') out.keys = v;
      else if (a === '--expect-head') {
        if (!/^[0-9a-fA-F]{64}$/.test(v)) return `--expect-head takes a 64-hex-digit block hash\n${USAGE}`;
        out.expectHead = v.toLowerCase();
      } else if (a === '--min-height' || a === '--max-anchor-lag') {
        if (!/^\d{1,12}$/.test(v)) return `${a} takes a whole number\n${USAGE}`;
        if (a === '--min-height') out.minHeight = Number(v);
        else out.maxAnchorLagS = Number(v);
      } else if (a === '--event') out.event = v;
      else out.tsaCa = v;
    } else if (a === '--require-anchored') out.requireAnchored = true;
    else if (a === '--unsigned') out.unsigned = true;
    else if (a === '-h' || a === '--help') return USAGE;
    else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else if (!out.source) out.source = a;
    else return `unexpected argument ${a}\n${USAGE}`;
  }
  if (!out.source) return USAGE;
  if (!out.keys && !out.unsigned)
    return `give the tenant's audit key set (--audit-keys), or --unsigned to check hashes and proofs without signatures\n${USAGE}`;
  if (out.keys && out.unsigned) return `--unsigned and --audit-keys exclude each other\n${USAGE}`;
  if (out.requireAnchored && !out.tsaCa)
    return `--require-anchored needs --tsa-ca (a self-signed TSA would pass)\n${USAGE}`;
  return out as VerifyArgs;
}

/** Block files of a directory, ordered by name (zero-padded heights). */
export function readDir(dir: string): BlockSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') }));
}

/**
 * Block objects under an S3 prefix, ordered by key, with every stored version of each (oldest
 * first). A key whose latest version is a delete marker fails: the block was removed.
 */
export async function readS3(
  uri: string,
  client = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) }),
): Promise<BlockSource[]> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  const bucket = m[1]!;
  const prefix = m[2] ? (m[2].endsWith('/') ? m[2] : `${m[2]}/`) : '';
  const versions = new Map<string, { id: string; latest: boolean; at: number; n: number }[]>();
  const deleted = new Set<string>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  let n = 0;
  const ours = (k: string | undefined): k is string =>
    Boolean(k?.endsWith('.json') && !k.slice(prefix.length).includes('/'));
  do {
    const r = await client.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    for (const v of r.Versions ?? []) {
      if (!ours(v.Key)) continue;
      const list = versions.get(v.Key) ?? [];
      list.push({ id: v.VersionId ?? 'null', latest: Boolean(v.IsLatest), at: v.LastModified?.getTime() ?? 0, n: n++ });
      versions.set(v.Key, list);
    }
    for (const d of r.DeleteMarkers ?? []) if (ours(d.Key) && d.IsLatest) deleted.add(d.Key);
    keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
    versionMarker = r.IsTruncated ? r.NextVersionIdMarker : undefined;
  } while (keyMarker);
  const keys = [...new Set([...versions.keys(), ...deleted])].sort();
  const out: BlockSource[] = [];
  for (const k of keys) {
    if (deleted.has(k)) {
      out.push({ name: k, text: '', deleted: true });
      continue;
    }
    // S3 lists a key's versions newest first; oldest first here (ties keep the listing order).
    const vs = versions.get(k)!.sort((a, b) => a.at - b.at || b.n - a.n);
    const texts: { id: string; text: string }[] = [];
    for (const v of vs) {
      const r = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: k, ...(v.id !== 'null' ? { VersionId: v.id } : {}) }),
      );
      texts.push({ id: v.id, text: await r.Body!.transformToString() });
    }
    out.push({ name: k, text: texts.at(-1)!.text, versions: texts });
  }
  return out;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The tenant's audit key set from an https URL or a file. Plain http is refused (a network
 * attacker could hand in their own keys) except on loopback, for local runs (F28).
 */
export async function loadKeySet(where: string): Promise<Jwk[]> {
  let text: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) {
    const u = new URL(where);
    if (u.protocol === 'http:' && !(LOOPBACK.has(u.hostname) || /^127\./.test(u.hostname))) {
      throw new Error(`refusing the plain-http key set ${where}: use https (http is accepted on loopback only)`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`unsupported key set URL ${where}`);
    const r = await fetch(u, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
    if (!r.ok) throw new Error(`key set ${where} answered HTTP ${r.status}`);
    text = await r.text();
  } else text = readFileSync(where, 'utf8');
  const doc = JSON.parse(text) as { keys?: Jwk[] };
  if (!Array.isArray(doc.keys)) throw new Error('key set has no "keys" array');
  return doc.keys;
}

export async function run(
  args: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    const help = parsed === USAGE && (args.includes('-h') || args.includes('--help'));
    (help ? out : err)(`${parsed}\n`);
    return help ? 0 : 2;
  }
  let sources: BlockSource[];
  let jwks: Jwk[] | undefined;
  let tsaCa: string | undefined;
  try {
    sources = parsed.source.startsWith('s3://') ? await readS3(parsed.source) : readDir(parsed.source);
    jwks = parsed.keys ? await loadKeySet(parsed.keys) : undefined;
    tsaCa = parsed.tsaCa ? readFileSync(parsed.tsaCa, 'utf8') : undefined;
  } catch (e) {
    out(`FAIL ${parsed.source}: ${(e as Error).message}\n`);
    return 1;
  }
  const outcome = await verifyChain(sources, {
    ...(jwks ? { jwks } : {}),
    unsigned: parsed.unsigned,
    ...(parsed.expectHead ? { expectHead: parsed.expectHead } : {}),
    ...(parsed.minHeight !== undefined ? { minHeight: parsed.minHeight } : {}),
    ...(parsed.maxAnchorLagS !== undefined ? { maxAnchorLagS: parsed.maxAnchorLagS } : {}),
    ...(parsed.event ? { eventId: parsed.event } : {}),
    ...(tsaCa ? { tsaTrustedCertsPem: [tsaCa] } : {}),
    requireAnchored: parsed.requireAnchored,
  });
  out(`${statusLine(outcome)}\n`);
  return outcome.ok ? 0 : 1;
}
