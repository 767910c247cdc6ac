// biome-ignore-all lint/suspicious/noExplicitAny: API Gateway authorizer events and error causes are untyped JSON
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { createRemoteJWKSet, decodeJwt } from 'jose';
import { handlerSettings, optionalSetting, perEnvironment, readSettings } from '../../shared/settings.js';
import { encodeAuthContext, type AuthContext, type AuthorizerContextWire } from '../../shared/http.js';
import { logger, observed } from '../../shared/observability.js';
import { systemClock } from '../../shared/clock.js';
import { verifyHumanToken } from '../core/human-auth.js';
import { isSvidIssuer, verifyAgentToken } from '../core/agent-auth.js';
import { createSvidVerifier } from '../../identity/index.js';
import { UnauthorizedError } from '../../shared/errors.js';

const IDP = [
  'ARX_IDP_ISSUER',
  'ARX_IDP_AUDIENCE',
  'ARX_IDP_JWKS_URL',
  'ARX_IDP_TENANT_CLAIM',
  'ARX_IDP_ROLES_CLAIM',
] as const;
const AGENTS = ['ARX_CONTROL_TABLE', 'ARX_REVOCATION_TABLE', 'ARX_SVID_ISSUER_BASE'] as const;
/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(IDP, AGENTS);

const config = perEnvironment(() => {
  const c = readSettings(IDP);
  return {
    human: {
      issuer: c.ARX_IDP_ISSUER,
      audience: c.ARX_IDP_AUDIENCE,
      tenantClaim: c.ARX_IDP_TENANT_CLAIM,
      rolesClaim: c.ARX_IDP_ROLES_CLAIM,
    },
    // cooldown: an unknown kid triggers at most one JWKS refetch per 30 s (no refetch storm)
    jwks: createRemoteJWKSet(new URL(c.ARX_IDP_JWKS_URL), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }),
  };
});

// Agent SVIDs: tenant JWKS from the control table, revocation list and credential state (1 s windows).
const agentConfig = perEnvironment(() => {
  const c = readSettings(AGENTS);
  return {
    issuerBase: c.ARX_SVID_ISSUER_BASE,
    verifier: createSvidVerifier({
      controlTable: c.ARX_CONTROL_TABLE,
      revocationTable: c.ARX_REVOCATION_TABLE,
      issuerBase: c.ARX_SVID_ISSUER_BASE,
    }),
  };
});

/** Bearer token from the Authorization header; anything else is no token. */
export function bearerToken(headers: Record<string, string | undefined> | undefined): string | null {
  const h = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
  const m = h ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(h.trim()) : null;
  return m ? m[1]! : null;
}

/** Authenticates a bearer token to an AuthContext or throws UnauthorizedError. */
export async function authenticate(token: string, now: Date = systemClock.now()): Promise<AuthContext> {
  let iss: string | undefined;
  try {
    // Oversized input is not even decoded; the SVID verifier itself refuses anything over 8 KB.
    iss = token.length <= 16 * 1024 ? decodeJwt(token).iss : undefined;
  } catch {
    iss = undefined;
  }
  const svidBase = optionalSetting('ARX_SVID_ISSUER_BASE');
  if (svidBase && isSvidIssuer(iss, svidBase)) {
    return verifyAgentToken(token, agentConfig().verifier);
  }
  const c = config();
  if (iss === c.human.issuer) return verifyHumanToken(token, c.jwks, c.human, now);
  throw new UnauthorizedError('token issuer is not trusted');
}

/**
 * True when a refusal was caused by an outage (the emulator/AWS, the IdP's JWKS endpoint), not by
 * the token: such a failure must not look like a bad token to the caller (issue 19).
 */
export function isDependencyFailure(e: unknown): boolean {
  for (let c: any = e, depth = 0; c && depth < 6; c = c.cause, depth++) {
    if (c.$metadata || c.$fault) return true; // an AWS SDK error
    if (c.reason === 'keys_unavailable' || c.reason === 'revocation_unavailable') return true;
    if (c.code === 'ERR_JWKS_TIMEOUT' || c.name === 'TimeoutError' || c.name === 'AbortError') return true;
    if (c instanceof TypeError && /fetch failed/i.test(c.message)) return true;
  }
  return false;
}

/**
 * HTTP API Lambda authorizer (simple responses). A missing or invalid token throws
 * "Unauthorized", which API Gateway answers with 401; roles are checked per route in handlers.
 */
export const handler = observed(
  async (
    event: APIGatewayRequestAuthorizerEventV2,
  ): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContextWire>> => {
    const token = bearerToken(event.headers);
    if (!token) throw new Error('Unauthorized');
    try {
      const auth = await authenticate(token);
      return { isAuthorized: true, context: encodeAuthContext(auth) };
    } catch (e) {
      // Any error other than "Unauthorized" is answered 500 by API Gateway: the caller may retry.
      if (isDependencyFailure(e)) {
        logger.error('authorizer dependency unavailable', { error_name: (e as Error).name });
        throw new Error('authorizer dependency unavailable', { cause: e });
      }
      logger.info('token refused', { error_name: (e as Error).name });
      throw new Error('Unauthorized');
    }
  },
);
