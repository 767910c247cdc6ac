import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { DevAuthorization, DevIdp } from '../../../local/dev-idp.js';

const REDIRECT = 'http://127.0.0.1:9999/console/';
const b64url = (b: Buffer) => b.toString('base64url');

describe('dev issuer: OIDC authorization code with PKCE for the console', () => {
  let idp: DevIdp;
  let now = Date.parse('2026-12-02T03:00:00Z');
  let auth: DevAuthorization;
  beforeAll(async () => {
    idp = await DevIdp.create('http://127.0.0.1:9999/.dev-idp');
    auth = new DevAuthorization(idp, 'acme', [{ clientId: 'arx-console', redirectUris: [REDIRECT] }], () => now);
  });

  const pkce = () => {
    const verifier = b64url(randomBytes(32));
    return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
  };
  const authorizeParams = (challenge: string, extra: Record<string, string> = {}) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: 'arx-console',
      redirect_uri: REDIRECT,
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
  /** Signs in as `user`: the code the issuer redirects back with. */
  const codeFor = (challenge: string, user = 'approver') => {
    const a = auth.authorize(authorizeParams(challenge, { user }), 'POST');
    expect(a.status).toBe(303);
    const back = new URL(a.headers.location!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('st-1');
    return back.searchParams.get('code')!;
  };
  const redeem = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    auth.token(
      new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: 'arx-console',
        redirect_uri: REDIRECT,
        ...extra,
      }),
    );

  it('offers one button per dev user and escapes what it echoes', () => {
    const { challenge } = pkce();
    const page = auth.authorize(authorizeParams(challenge, { state: '"><script>x</script>' }), 'GET');
    expect(page.status).toBe(200);
    for (const u of ['admin', 'approver', 'auditor']) expect(page.body).toContain(`>Sign in as ${u}</button>`);
    expect(page.body).not.toContain('<script>x</script>');
    expect(page.body).toContain('&quot;&gt;&lt;script&gt;');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('code + the right verifier → an ES256 access token with tenant and roles, and an ID token with the nonce', async () => {
    const { verifier, challenge } = pkce();
    const r = await redeem(codeFor(challenge), verifier);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(r.body);
    expect(body.token_type).toBe('Bearer');
    const jwks = createLocalJWKSet(idp.jwks);
    const access = await jwtVerify(body.access_token, jwks, { issuer: idp.issuer, audience: 'arx' });
    expect(access.payload).toMatchObject({ sub: 'dev-approver', arx_tenant: 'acme', arx_roles: ['approver'] });
    const id = await jwtVerify(body.id_token, jwks, { issuer: idp.issuer, audience: 'arx-console' });
    expect(id.payload.nonce).toBe('n-1');
  });

  it('a wrong code_verifier is invalid_grant, and the code is spent', async () => {
    const { verifier, challenge } = pkce();
    const code = codeFor(challenge);
    const wrong = await redeem(code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body).error).toBe('invalid_grant');
    const retry = await redeem(code, verifier);
    expect(retry.status).toBe(400);
    expect(JSON.parse(retry.body).error).toBe('invalid_grant');
  });

  it('a code is single use', async () => {
    const { verifier, challenge } = pkce();
    const code = codeFor(challenge);
    expect((await redeem(code, verifier)).status).toBe(200);
    const again = await redeem(code, verifier);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it('a code expires after 60 s', async () => {
    const { verifier, challenge } = pkce();
    const code = codeFor(challenge);
    now += 61_000;
    const late = await redeem(code, verifier);
    expect(late.status).toBe(400);
    expect(JSON.parse(late.body).error).toBe('invalid_grant');
  });

  it('redeeming with another redirect_uri or client is invalid_grant', async () => {
    const a = pkce();
    const r1 = await redeem(codeFor(a.challenge), a.verifier, { redirect_uri: 'http://127.0.0.1:9999/elsewhere/' });
    expect(r1.status).toBe(400);
    expect(JSON.parse(r1.body).error).toBe('invalid_grant');
    const b = pkce();
    const r2 = await redeem(codeFor(b.challenge), b.verifier, { client_id: 'other' });
    expect(JSON.parse(r2.body).error).toBe('invalid_grant');
  });

  it('an unregistered redirect_uri or client is refused on the page, never redirected to', () => {
    const { challenge } = pkce();
    const bad: Record<string, string>[] = [{ redirect_uri: 'https://evil.example/console/' }, { client_id: 'nope' }];
    for (const extra of bad) {
      for (const method of ['GET', 'POST'] as const) {
        const a = auth.authorize(authorizeParams(challenge, { ...extra, user: 'admin' }), method);
        expect(a.status).toBe(400);
        expect(a.headers.location).toBeUndefined();
      }
    }
  });

  it('PKCE S256 and state are required; errors go back to the registered redirect_uri', () => {
    const { challenge } = pkce();
    const bad: Record<string, string>[] = [
      { code_challenge_method: 'plain' },
      { code_challenge: 'short' },
      { state: '' },
      { response_type: 'token' },
    ];
    for (const extra of bad) {
      const a = auth.authorize(authorizeParams(challenge, extra), 'GET');
      expect(a.status).toBe(303);
      const back = new URL(a.headers.location!);
      expect(back.searchParams.get('error')).toMatch(/^(invalid_request|unsupported_response_type)$/);
      expect(back.searchParams.get('code')).toBeNull();
    }
  });

  it('an unknown dev user or grant type is refused', async () => {
    const { challenge } = pkce();
    const a = auth.authorize(authorizeParams(challenge, { user: 'root' }), 'POST');
    expect(new URL(a.headers.location!).searchParams.get('error')).toBe('access_denied');
    const t = await auth.token(new URLSearchParams({ grant_type: 'password', username: 'x' }));
    expect(t.status).toBe(400);
    expect(JSON.parse(t.body).error).toBe('unsupported_grant_type');
  });

  const refresh = (token: string, extra: Record<string, string> = {}) =>
    auth.token(
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: 'arx-console', ...extra }),
    );
  const signedIn = async (user = 'auditor') => {
    const { verifier, challenge } = pkce();
    const r = await redeem(codeFor(challenge, user), verifier);
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as { access_token: string; refresh_token: string; expires_in: number };
  };

  it('a refresh token gives new access and ID tokens for the same user, and the next refresh token (rotation)', async () => {
    const first = await signedIn('auditor');
    expect(first.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const r = await refresh(first.refresh_token);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(r.body);
    expect(body.refresh_token).not.toBe(first.refresh_token);
    expect(body.access_token).not.toBe(first.access_token);
    const access = await jwtVerify(body.access_token, createLocalJWKSet(idp.jwks), {
      issuer: idp.issuer,
      audience: 'arx',
    });
    expect(access.payload).toMatchObject({ sub: 'dev-auditor', arx_tenant: 'acme', arx_roles: ['auditor'] });
    expect((await refresh(body.refresh_token)).status).toBe(200);
    expect(auth.discovery().grant_types_supported).toEqual(['authorization_code', 'refresh_token']);
  });

  it('a spent refresh token presented again is invalid_grant and revokes every token of that sign-in', async () => {
    const first = await signedIn();
    const next = JSON.parse((await refresh(first.refresh_token)).body).refresh_token as string;
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body).error).toBe('invalid_grant');
    const after = await refresh(next);
    expect(after.status).toBe(400);
    expect(JSON.parse(after.body).error).toBe('invalid_grant');
    // Another sign-in is untouched.
    expect((await refresh((await signedIn()).refresh_token)).status).toBe(200);
  });

  it('a refresh token for another client, a missing, unknown or expired one is refused', async () => {
    const t = await signedIn();
    const other = await refresh(t.refresh_token, { client_id: 'other' });
    expect(JSON.parse(other.body).error).toBe('invalid_grant');
    const missing = await auth.token(new URLSearchParams({ grant_type: 'refresh_token', client_id: 'arx-console' }));
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error).toBe('invalid_request');
    expect((await refresh('unknown-token')).status).toBe(400);
    const late = await signedIn();
    now += 8 * 3600_000 + 1;
    const expired = await refresh(late.refresh_token);
    expect(expired.status).toBe(400);
    expect(JSON.parse(expired.body).error).toBe('invalid_grant');
  });

  it('issues tokens with the configured lifetime', async () => {
    const short = new DevAuthorization(
      idp,
      'acme',
      [{ clientId: 'arx-console', redirectUris: [REDIRECT] }],
      () => now,
      20,
    );
    const { verifier, challenge } = pkce();
    const a = short.authorize(authorizeParams(challenge, { user: 'admin' }), 'POST');
    const code = new URL(a.headers.location!).searchParams.get('code')!;
    const r = await short.token(
      new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: 'arx-console',
        redirect_uri: REDIRECT,
      }),
    );
    const body = JSON.parse(r.body);
    expect(body.expires_in).toBe(20);
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(20);
    const renewed = await short.token(
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: 'arx-console' }),
    );
    expect(JSON.parse(renewed.body).expires_in).toBe(20);
  });
});
