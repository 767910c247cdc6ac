import { createHash, randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

/** Time-ordered, URL-safe identifiers (ULID) with a readable prefix, e.g. `agt_01J…`. */
export function newId(prefix: string, at: Date = new Date()): string {
  return `${prefix}_${ulid(at.getTime())}`;
}

/** A high-entropy secret shown to its holder once; store only `sha256Hex` of it. */
export function newSecret(prefix: string, bytes = 32): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256B64(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

/** Deterministic JSON (RFC 8785-style key ordering) for hashing and binding params. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** A tenant id: a DNS label (it names SPIFFE trust domains, KMS aliases and key prefixes). */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** SPIFFE id of an agent (seed C2.1). */
export const spiffeIdOf = (tenantId: string, platform: string, agentId: string): string =>
  `spiffe://${tenantId}.arx/${platform}/${agentId}`;
