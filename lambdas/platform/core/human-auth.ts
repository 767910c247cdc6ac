import { jwtVerify, type JWTVerifyGetKey, type JWTPayload } from 'jose';
import { UnauthorizedError } from '../../shared/errors.js';
import { TENANT_ID } from '../../shared/ids.js';
import type { AuthContext } from '../../shared/http.js';
import type { Role } from '../../shared/topology-types.js';

export interface HumanAuthConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly tenantClaim: string;
  readonly rolesClaim: string;
}

/** Roles a human may hold; `agent` is reserved for ARX-issued SVIDs. */
const HUMAN_ROLES: readonly Role[] = ['admin', 'approver', 'auditor'];

function claimRoles(v: unknown): Role[] {
  const raw = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  return [...new Set(raw.filter((r): r is Role => (HUMAN_ROLES as readonly string[]).includes(r)))];
}

/**
 * Verifies an OIDC access/ID token from the organisation's IdP: signature against the IdP JWKS
 * (asymmetric algorithms only), issuer, audience, expiry (60 s skew), then reads the tenant and
 * roles claims. The tenant comes only from here.
 */
export async function verifyHumanToken(
  token: string,
  keys: JWTVerifyGetKey,
  cfg: HumanAuthConfig,
  now: Date,
): Promise<AuthContext> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: cfg.issuer,
      audience: cfg.audience,
      algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
      clockTolerance: 60,
      currentDate: now,
      requiredClaims: ['sub', 'exp'],
    }));
  } catch (e) {
    throw new UnauthorizedError('invalid token', { cause: e });
  }
  const tenant = payload[cfg.tenantClaim];
  if (typeof tenant !== 'string' || !TENANT_ID.test(tenant))
    throw new UnauthorizedError('token has no valid tenant claim');
  const roles = claimRoles(payload[cfg.rolesClaim]);
  return {
    tenantId: tenant,
    subject: payload.sub!,
    roles,
    principalType: 'human',
    ...(typeof payload.email === 'string' ? { email: payload.email } : {}),
  };
}
