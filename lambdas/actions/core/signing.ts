import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../../shared/ids.js';

/**
 * Binding hash of a governed action: SHA-256 over canonical JSON of (agent, connector,
 * operation, params). An approval carries this hash; only a call with exactly these values can run.
 */
export function bindingHash(
  agentId: string,
  connector: string,
  operation: string,
  params: Record<string, unknown>,
): string {
  return sha256Hex(canonicalJson({ agent_id: agentId, connector, operation, params }));
}

function hmacHex(key: string | Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings (false on length mismatch, without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export type SignatureCheck = { ok: true } | { ok: false; why: 'missing' | 'stale' | 'mismatch' };

/**
 * Verifies a Slack request signature (v0): `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`
 * with the signing secret; refuses timestamps more than `toleranceS` from `now`.
 * Preconditions: `rawBody` is the body exactly as received. The caller must still refuse replays
 * (the same signature seen twice within the tolerance window).
 *
 * @example
 * verifySlackSignature({ signingSecret, timestamp: h['x-slack-request-timestamp'], signature: h['x-slack-signature'], rawBody, now });
 */
export function verifySlackSignature(args: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
  now: Date;
  toleranceS?: number;
}): SignatureCheck {
  const { signingSecret, timestamp, signature, rawBody, now } = args;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return { ok: false, why: 'missing' };
  const tolerance = args.toleranceS ?? 300;
  if (Math.abs(Math.floor(now.getTime() / 1000) - Number(timestamp)) > tolerance) return { ok: false, why: 'stale' };
  const expected = `v0=${hmacHex(signingSecret, `v0:${timestamp}:${rawBody}`)}`;
  return safeEqual(expected, signature) ? { ok: true } : { ok: false, why: 'mismatch' };
}

/** Slack's own signing, for tests and the local fake Slack. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  return `v0=${hmacHex(signingSecret, `v0:${timestamp}:${rawBody}`)}`;
}

/**
 * Generic webhook signature (Stripe-style): header `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 */
export function webhookSignatureHeader(secret: string, at: Date, body: string): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  now: Date,
  toleranceS = 300,
): SignatureCheck & { t?: string; v1?: string } {
  if (!header) return { ok: false, why: 'missing' };
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = parts.t;
  const v1 = parts.v1;
  if (!t || !v1 || !/^\d{1,12}$/.test(t)) return { ok: false, why: 'missing' };
  if (Math.abs(Math.floor(now.getTime() / 1000) - Number(t)) > toleranceS) return { ok: false, why: 'stale' };
  return safeEqual(hmacHex(secret, `${t}.${body}`), v1) ? { ok: true, t, v1 } : { ok: false, why: 'mismatch' };
}

/** Payload of a one-time approve/deny link sent by e-mail. */
export interface LinkClaims {
  /** tenant */
  readonly t: string;
  /** approval id */
  readonly a: string;
  /** decision */
  readonly d: 'approve' | 'deny';
  /** recipient (the approver identity this link stands for) */
  readonly r: string;
  /** expiry, unix seconds */
  readonly exp: number;
  /** nonce: marks the link used */
  readonly n: string;
}

/** `<base64url(JSON claims)>.<base64url HMAC-SHA256>`; the key is the tenant's e-mail link key. */
export function signLinkToken(key: string, claims: LinkClaims): string {
  const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const mac = createHmac('sha256', key).update(body).digest('base64url');
  return `${body}.${mac}`;
}

/** Reads claims without verifying (to find the tenant whose key verifies them). */
export function peekLinkToken(token: string): LinkClaims | null {
  const [body] = token.split('.');
  if (!body) return null;
  try {
    const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LinkClaims;
    if (typeof c.t !== 'string' || typeof c.a !== 'string' || (c.d !== 'approve' && c.d !== 'deny')) return null;
    if (typeof c.exp !== 'number' || typeof c.n !== 'string' || typeof c.r !== 'string') return null;
    return c;
  } catch {
    return null;
  }
}

export function verifyLinkToken(
  key: string,
  token: string,
  now: Date,
): { ok: true; claims: LinkClaims } | { ok: false; why: 'malformed' | 'mismatch' | 'stale' } {
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, why: 'malformed' };
  const claims = peekLinkToken(token);
  if (!claims) return { ok: false, why: 'malformed' };
  const mac = createHmac('sha256', key).update(parts[0]!).digest('base64url');
  if (!safeEqual(mac, parts[1]!)) return { ok: false, why: 'mismatch' };
  if (claims.exp * 1000 <= now.getTime()) return { ok: false, why: 'stale' };
  return { ok: true, claims };
}

/**
 * Value of a Slack button: `<decision>:<approval id>:<mac>`; the MAC (HMAC-SHA256 with the
 * tenant's Slack signing secret, first 128 bits) lets ARX check it minted the value itself.
 */
export function buttonValue(key: string, decision: 'approve' | 'deny', approvalId: string): string {
  return `${decision}:${approvalId}:${createHmac('sha256', key).update(`arx-button:${decision}:${approvalId}`).digest('base64url').slice(0, 22)}`;
}

export function parseButtonValue(
  value: unknown,
): { decision: 'approve' | 'deny'; approvalId: string; mac: string } | null {
  if (typeof value !== 'string') return null;
  const m = /^(approve|deny):([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{22})$/.exec(value);
  return m ? { decision: m[1] as 'approve' | 'deny', approvalId: m[2]!, mac: m[3]! } : null;
}

export function verifyButtonValue(key: string, value: string): boolean {
  const p = parseButtonValue(value);
  return p !== null && safeEqual(buttonValue(key, p.decision, p.approvalId), value);
}
