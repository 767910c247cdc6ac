/**
 * Sign-in: OpenID Connect authorization code flow with PKCE (S256) against the organisation's
 * issuer. The code verifier, state and nonce are made with WebCrypto and kept in sessionStorage
 * for the round trip only; the access token is kept in sessionStorage (this tab) until it expires.
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

function sessionFrom(cfg: ConsoleConfig, accessToken: string, expiresIn: number): Session {
  const c = decodeJwt(accessToken);
  const exp = typeof c.exp === 'number' ? c.exp * 1000 : Date.now() + expiresIn * 1000;
  return {
    accessToken,
    expiresAt: exp,
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
  const body = (await r.json()) as {
    access_token?: string;
    id_token?: string;
    expires_in?: number;
    error?: string;
    error_description?: string;
  };
  if (!r.ok || !body.access_token)
    throw new Error(`the token endpoint refused the code: ${body.error ?? r.status} ${body.error_description ?? ''}`);
  if (body.id_token && decodeJwt(body.id_token).nonce !== flow.nonce)
    throw new Error('sign-in refused: the ID token nonce does not match');
  const s = sessionFrom(cfg, body.access_token, body.expires_in ?? 3600);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

export function currentSession(): Session | null {
  const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
  if (!s || s.expiresAt <= Date.now() + 10_000) return null;
  return s;
}

export function signOut(): void {
  sessionStorage.removeItem(SESSION_KEY);
}
