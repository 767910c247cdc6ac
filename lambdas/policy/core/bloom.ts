import { createHash } from 'node:crypto';

/**
 * A Bloom filter of revoked agent ids carried in every bundle (seed C6.2), for enforcement points
 * that cannot reach the revocation table: "maybe revoked" forbids; "not in the filter" means the
 * agent was not revoked when the bundle was built.
 */
export interface BloomJson {
  /** Number of bits. */
  readonly m: number;
  /** Number of hash functions. */
  readonly k: number;
  /** Items inserted. */
  readonly n: number;
  /** Bit array, base64. */
  readonly bits: string;
}

/** Double hashing over SHA-256 (Kirsch–Mitzenmacher): h_i = h1 + i·h2 mod m. */
function positions(m: number, k: number, item: string): number[] {
  const d = createHash('sha256').update(item).digest();
  const h1 = d.readUInt32BE(0);
  const h2 = (d.readUInt32BE(4) | 1) >>> 0; // odd, unsigned (a bare `|` would go negative)
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(Number((BigInt(h1) + BigInt(i) * BigInt(h2)) % BigInt(m)));
  return out;
}

/** Builds a filter sized for `items` at false-positive rate `p` (default 1 %). */
export function buildBloom(items: readonly string[], p = 0.01): BloomJson {
  const n = Math.max(items.length, 1);
  const m = Math.max(64, Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2));
  const k = Math.max(1, Math.round((m / n) * Math.LN2));
  const bits = new Uint8Array(Math.ceil(m / 8));
  for (const it of items) for (const b of positions(m, k, it)) bits[b >> 3]! |= 1 << (b & 7);
  return { m, k, n: items.length, bits: Buffer.from(bits).toString('base64') };
}

/** A decoded filter, ready for lookups. */
export class BloomFilter {
  private readonly bits: Uint8Array;
  constructor(private readonly json: BloomJson) {
    this.bits = new Uint8Array(Buffer.from(json.bits, 'base64'));
  }
  /** False: certainly not inserted. True: probably inserted. */
  mightContain(item: string): boolean {
    if (this.json.n === 0) return false;
    return positions(this.json.m, this.json.k, item).every((b) => ((this.bits[b >> 3] ?? 0) & (1 << (b & 7))) !== 0);
  }
}

/** Revoked ids are keyed per tenant so one filter never answers for another tenant. */
export const bloomItem = (tenantId: string, agentId: string): string => `${tenantId}|${agentId}`;
