import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * A development OIDC issuer: an ES256 key made at start-up, its JWKS served by the local runtime,
 * and tokens for the dev users. Never used outside `npm run dev` and tests.
 */
export class DevIdp {
  private constructor(
    readonly issuer: string,
    readonly audience: string,
    private readonly privateKey: PrivateKey,
    readonly jwks: { keys: JWK[] },
    readonly kid: string,
  ) {}

  static async create(issuer: string, audience = 'arx'): Promise<DevIdp> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = `dev-${randomUUID().slice(0, 8)}`;
    return new DevIdp(issuer, audience, privateKey, { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }, kid);
  }

  /** Mints a human token with the tenant and roles claims the authorizer reads. */
  async token(opts: {
    sub: string;
    tenant: string;
    roles: string[];
    email?: string;
    ttlSeconds?: number;
    now?: Date;
    audience?: string;
    nonce?: string;
  }): Promise<string> {
    const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
    return new SignJWT({
      arx_tenant: opts.tenant,
      arx_roles: opts.roles,
      ...(opts.email ? { email: opts.email } : {}),
      ...(opts.nonce ? { nonce: opts.nonce } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(opts.audience ?? this.audience)
      .setSubject(opts.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + (opts.ttlSeconds ?? 12 * 3600))
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}

/** The dev users the authorize page offers, one button each. */
export const DEV_USERS = {
  admin: { sub: 'dev-admin', roles: ['admin'], email: 'admin@example.com' },
  approver: { sub: 'dev-approver', roles: ['approver'], email: 'manager@example.com' },
  auditor: { sub: 'dev-auditor', roles: ['auditor'], email: 'auditor@example.com' },
} as const;
export type DevUser = keyof typeof DEV_USERS;

/** The console's OIDC client: public (no secret), PKCE S256 required, redirect URIs registered exactly. */
export interface DevClient {
  readonly clientId: string;
  readonly redirectUris: readonly string[];
}

interface PendingCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly user: DevUser;
  readonly nonce?: string;
  readonly expiresAt: number;
}

export interface IdpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const CODE_TTL_MS = 60_000;
/** How long a refresh token may be redeemed (each redemption rotates it). */
const REFRESH_TTL_MS = 8 * 3600_000;

interface RefreshGrant {
  readonly clientId: string;
  readonly user: DevUser;
  /** Every token rotated from one sign-in shares its family: a replayed one revokes them all. */
  readonly family: string;
  readonly expiresAt: number;
}
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
const oauthError = (status: number, error: string, description: string): IdpAnswer => ({
  status,
  headers: { 'content-type': 'application/json', ...noStore },
  body: JSON.stringify({ error, error_description: description }),
});
const page = (status: number, title: string, inner: string): IdpAnswer => ({
  status,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
    ...noStore,
  },
  body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
button{display:block;width:100%;margin:.5rem 0;padding:.7rem;font:inherit;border:1px solid #1f4e8c;background:#1f4e8c;color:#fff;border-radius:6px;cursor:pointer}
button:focus-visible{outline:3px solid #f0a500;outline-offset:2px}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${inner}</main></body></html>`,
});

/**
 * The development issuer's authorization endpoint and token endpoint: OAuth 2.0 authorization code
 * with PKCE (RFC 7636, S256 only) for the console's public client. Codes are single use, live 60 s,
 * and are bound to the client, the redirect URI and the code challenge. Each sign-in also gets a
 * refresh token (RFC 6749 §6), rotated on every use as OAuth 2.1 asks of public clients: the
 * redeemed token is spent, and presenting a spent one again revokes every token of that sign-in.
 */
export class DevAuthorization {
  private readonly codes = new Map<string, PendingCode>();
  private readonly refresh = new Map<string, RefreshGrant>();
  private readonly spent = new Map<string, string>();
  private readonly revokedFamilies = new Set<string>();

  constructor(
    private readonly idp: DevIdp,
    private readonly tenant: string,
    private readonly clients: readonly DevClient[],
    private readonly now: () => number = Date.now,
    /** Lifetime of the access and ID tokens it issues (tests shorten it to see the console renew them). */
    private readonly accessTtlSeconds = 3600,
  ) {}

  /** The OpenID Provider metadata of the dev issuer. */
  discovery(): Record<string, unknown> {
    const base = this.idp.issuer;
    return {
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/jwks.json`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      scopes_supported: ['openid', 'email'],
    };
  }

  /** GET (the page with one button per dev user) and POST (the chosen user: a code, redirected). */
  authorize(params: URLSearchParams, method: 'GET' | 'POST'): IdpAnswer {
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const client = this.clients.find((c) => c.clientId === clientId);
    // Before the redirect URI is known to be the client's, errors are shown, never redirected.
    if (!client) return page(400, 'Sign-in refused', '<p>Unknown client_id.</p>');
    if (!client.redirectUris.includes(redirectUri))
      return page(400, 'Sign-in refused', '<p>The redirect_uri is not registered for this client.</p>');
    const state = params.get('state') ?? '';
    const back = (q: Record<string, string>): IdpAnswer => {
      const u = new URL(redirectUri);
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
      if (state) u.searchParams.set('state', state);
      return { status: 303, headers: { location: u.toString(), ...noStore }, body: '' };
    };
    if (params.get('response_type') !== 'code')
      return back({ error: 'unsupported_response_type', error_description: 'only response_type=code' });
    if (!state) return back({ error: 'invalid_request', error_description: 'state is required' });
    const challenge = params.get('code_challenge') ?? '';
    if (params.get('code_challenge_method') !== 'S256' || !PKCE_CHALLENGE.test(challenge))
      return back({ error: 'invalid_request', error_description: 'PKCE with code_challenge_method=S256 is required' });
    const nonce = params.get('nonce') ?? undefined;
    if (method === 'GET') {
      const hidden = [...params.entries()]
        .filter(([k]) => k !== 'user')
        .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
        .join('');
      const buttons = (Object.keys(DEV_USERS) as DevUser[])
        .map((u) => `<button type="submit" name="user" value="${u}">Sign in as ${u}</button>`)
        .join('');
      return page(
        200,
        'ARX development sign-in',
        `<p>Development issuer for tenant <b>${escapeHtml(this.tenant)}</b>. Choose a user:</p>` +
          `<form method="post" action="authorize">${hidden}${buttons}</form>`,
      );
    }
    const user = params.get('user') ?? '';
    if (!Object.hasOwn(DEV_USERS, user)) return back({ error: 'access_denied', error_description: 'no such dev user' });
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      user: user as DevUser,
      ...(nonce ? { nonce } : {}),
      expiresAt: this.now() + CODE_TTL_MS,
    });
    return back({ code });
  }

  /**
   * The token endpoint: `authorization_code` + `code_verifier` → access, ID and refresh tokens;
   * `refresh_token` → new access and ID tokens and the next refresh token.
   */
  async token(params: URLSearchParams): Promise<IdpAnswer> {
    if (params.get('grant_type') === 'refresh_token') return this.redeemRefresh(params);
    if (params.get('grant_type') !== 'authorization_code')
      return oauthError(400, 'unsupported_grant_type', 'only authorization_code and refresh_token');
    const code = params.get('code') ?? '';
    const verifier = params.get('code_verifier') ?? '';
    if (!code || !verifier) return oauthError(400, 'invalid_request', 'code and code_verifier are required');
    const pending = this.codes.get(code);
    // Single use: whatever happens next, the code is spent.
    this.codes.delete(code);
    if (!pending || pending.expiresAt < this.now())
      return oauthError(400, 'invalid_grant', 'the code is unknown, expired or already used');
    if (params.get('client_id') !== pending.clientId)
      return oauthError(400, 'invalid_grant', 'the code was issued to another client');
    if (params.get('redirect_uri') !== pending.redirectUri)
      return oauthError(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (!PKCE_VERIFIER.test(verifier) || !timingSafeEqual(Buffer.from(computed), Buffer.from(pending.challenge)))
      return oauthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
    return this.issue(pending.clientId, pending.user, randomUUID(), pending.nonce);
  }

  private async redeemRefresh(params: URLSearchParams): Promise<IdpAnswer> {
    const token = params.get('refresh_token') ?? '';
    if (!token) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const replayed = this.spent.get(token);
    if (replayed !== undefined) {
      // A rotated token presented again: someone holds a copy. Nothing of that sign-in stays valid.
      this.revokedFamilies.add(replayed);
      for (const [t, g] of this.refresh) if (g.family === replayed) this.refresh.delete(t);
      return oauthError(400, 'invalid_grant', 'the refresh token was already used; its sign-in is revoked');
    }
    const grant = this.refresh.get(token);
    if (!grant || grant.expiresAt < this.now() || this.revokedFamilies.has(grant.family))
      return oauthError(400, 'invalid_grant', 'the refresh token is unknown, expired or revoked');
    if (params.get('client_id') !== grant.clientId)
      return oauthError(400, 'invalid_grant', 'the refresh token was issued to another client');
    this.refresh.delete(token);
    this.spent.set(token, grant.family);
    return this.issue(grant.clientId, grant.user, grant.family);
  }

  private async issue(clientId: string, user: DevUser, family: string, nonce?: string): Promise<IdpAnswer> {
    const u = DEV_USERS[user];
    const ttlSeconds = this.accessTtlSeconds;
    const claims = { sub: u.sub, tenant: this.tenant, roles: [...u.roles], email: u.email, ttlSeconds };
    const access = await this.idp.token(claims);
    const idToken = await this.idp.token({ ...claims, audience: clientId, ...(nonce ? { nonce } : {}) });
    const refreshToken = randomBytes(32).toString('base64url');
    this.refresh.set(refreshToken, { clientId, user, family, expiresAt: this.now() + REFRESH_TTL_MS });
    return {
      status: 200,
      headers: { 'content-type': 'application/json', ...noStore },
      body: JSON.stringify({
        access_token: access,
        id_token: idToken,
        refresh_token: refreshToken,
        token_type: 'Bearer',
        expires_in: ttlSeconds,
      }),
    };
  }
}
