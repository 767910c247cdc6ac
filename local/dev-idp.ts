import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';

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
  }): Promise<string> {
    const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
    return new SignJWT({ arx_tenant: opts.tenant, arx_roles: opts.roles, ...(opts.email ? { email: opts.email } : {}) })
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
