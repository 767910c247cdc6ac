/**
 * Sign-in: OpenID Connect authorization code flow with PKCE (S256) against the organisation's
 * issuer. The code verifier, state and nonce are made with WebCrypto and kept in sessionStorage
 * for the round trip only; the access token (and the refresh token, when the issuer gives one)
 * is kept in sessionStorage (this tab). Before the access token expires it is renewed with the
 * refresh token; without one, or when renewal is refused, the user is sent to sign in again.
 */

export interface ConsoleConfig {
  readonly api_url: string;
  readonly issuer: string;
  readonly client_id: string;
  readonly roles_claim: string;
  readonly tenant_claim: string;
  readonly scope?: string;
  readonly audit_bucket?: string;
}

export interface Session {
  readonly accessToken: string;
  readonly expiresAt: number;
  /** When the access token was received (its lifetime decides how early it is renewed). */
  readonly issuedAt: number;
  readonly refreshToken?: string;
  readonly sub: string;
  readonly email?: string;
  readonly tenant: string;
  readonly roles: readonly string[];
}

const FLOW_KEY = 'arx.console.flow';
const SESSION_KEY = 'arx.console.session';

const b64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n: number): string => b64url(crypto.getRandomValues(new Uint8Array(n)));

export function decodeJwt(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

function rolesOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

interface Discovery {
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
}

async function discover(cfg: ConsoleConfig): Promise<Discovery> {
  const r = await fetch(`${cfg.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!r.ok) throw new Error(`the issuer's OpenID configuration answered ${r.status}`);
  return (await r.json()) as Discovery;
}

const redirectUri = (): string => `${location.origin}${location.pathname}`;

/** Starts the flow: a fresh verifier, state and nonce, then the issuer's authorization endpoint. */
export async function signIn(cfg: ConsoleConfig): Promise<void> {
  const d = await discover(cfg);
  const verifier = random(32);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = random(16);
  const nonce = random(16);
  sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, nonce, hash: location.hash }));
  const u = new URL(d.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.client_id,
    redirect_uri: redirectUri(),
    scope: cfg.scope ?? 'openid',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(u.toString());
}

function sessionFrom(cfg: ConsoleConfig, accessToken: string, expiresIn: number, refreshToken?: string): Session {
  const c = decodeJwt(accessToken);
  const now = Date.now();
  // The earlier of the token's own exp and what the issuer said, so a skewed clock renews early, not late.
  const exp = Math.min(typeof c.exp === 'number' ? c.exp * 1000 : Infinity, now + expiresIn * 1000);
  return {
    accessToken,
    expiresAt: exp,
    issuedAt: now,
    ...(refreshToken ? { refreshToken } : {}),
    sub: String(c.sub ?? ''),
    ...(typeof c.email === 'string' ? { email: c.email } : {}),
    tenant: String(c[cfg.tenant_claim] ?? ''),
    roles: rolesOf(c[cfg.roles_claim]),
  };
}

/** Completes the flow when the issuer redirected back with `code` and `state`; null otherwise. */
export async function completeSignIn(cfg: ConsoleConfig): Promise<Session | null> {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return null;
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) ?? 'null') as {
    verifier: string;
    state: string;
    nonce: string;
    hash: string;
  } | null;
  sessionStorage.removeItem(FLOW_KEY);
  history.replaceState(null, '', `${location.pathname}${flow?.hash ?? ''}`);
  if (q.has('error')) throw new Error(`sign-in refused: ${q.get('error')} ${q.get('error_description') ?? ''}`);
  if (!flow || q.get('state') !== flow.state) throw new Error('sign-in refused: the state does not match this tab');
  const d = await discover(cfg);
  const r = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: q.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: cfg.client_id,
      code_verifier: flow.verifier,
    }),
  });
  const body = (await r.json()) as TokenAnswer;
  if (!r.ok || !body.access_token)
    throw new Error(`the token endpoint refused the code: ${body.error ?? r.status} ${body.error_description ?? ''}`);
  if (body.id_token && decodeJwt(body.id_token).nonce !== flow.nonce)
    throw new Error('sign-in refused: the ID token nonce does not match');
  const s = sessionFrom(cfg, body.access_token, body.expires_in ?? 3600, body.refresh_token);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

interface TokenAnswer {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

function storedSession(): Session | null {
  return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
}

/** The signed-in session while its access token is valid (renewal keeps it so). */
export function currentSession(): Session | null {
  const s = storedSession();
  if (!s || s.expiresAt <= Date.now()) return null;
  return s;
}

/** True when the access token should be renewed now: in its last third, and at most a minute before it expires. */
export function dueForRenewal(s: Session, now = Date.now()): boolean {
  const margin = Math.min(60_000, (s.expiresAt - (s.issuedAt ?? s.expiresAt)) / 3);
  return now >= s.expiresAt - margin;
}

let renewal: Promise<Session> | null = null;

/**
 * Renews the access token with the refresh token (one request at a time: the issuer rotates the
 * refresh token, so two renewals with the same one would revoke the sign-in). Throws when there
 * is nothing to renew with or the issuer refuses: the caller then signs the user in again.
 */
export function renewSession(cfg: ConsoleConfig): Promise<Session> {
  renewal ??= (async () => {
    const s = storedSession();
    if (!s?.refreshToken) throw new Error('no refresh token: sign in again');
    const d = await discover(cfg);
    const r = await fetch(d.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: s.refreshToken,
        client_id: cfg.client_id,
      }),
    });
    const body = (await r.json().catch(() => ({}))) as TokenAnswer;
    if (!r.ok || !body.access_token) {
      // A refused refresh token is spent either way: forget it, so nothing presents it again.
      sessionStorage.removeItem(SESSION_KEY);
      throw new Error(`the issuer refused to renew the session: ${body.error ?? r.status}`);
    }
    const next = sessionFrom(cfg, body.access_token, body.expires_in ?? 3600, body.refresh_token ?? s.refreshToken);
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
    return next;
  })().finally(() => {
    renewal = null;
  });
  return renewal;
}

/** The access token to send now: renewed first when it is due. Null when the user must sign in again. */
export async function freshToken(cfg: ConsoleConfig): Promise<string | null> {
  const s = storedSession();
  if (!s) return null;
  if (!dueForRenewal(s)) return s.accessToken;
  if (!s.refreshToken) return s.expiresAt > Date.now() ? s.accessToken : null;
  try {
    return (await renewSession(cfg)).accessToken;
  } catch {
    return null;
  }
}

/** At start-up: the stored session, renewed first when its token expired or is due. */
export async function restoreSession(cfg: ConsoleConfig): Promise<Session | null> {
  const s = storedSession();
  if (!s) return null;
  if (!dueForRenewal(s)) return s;
  if (!s.refreshToken) return currentSession();
  return renewSession(cfg).catch(() => null);
}

export function signOut(): void {
  sessionStorage.removeItem(SESSION_KEY);
}
