import { UnauthorizedError } from '../../shared/errors.js';
import type { AuthContext } from '../../shared/http.js';
import { ARX_AUDIENCE, type SvidVerifier } from '../../identity/index.js';

/** True when `iss` names an ARX SVID issuer (`<issuer base>/tenants/<tenant>`). */
export function isSvidIssuer(iss: unknown, issuerBase: string): boolean {
  return typeof iss === 'string' && iss.startsWith(`${issuerBase.replace(/\/+$/, '')}/tenants/`);
}

/**
 * Authenticates an agent by its ARX JWT-SVID (audience `arx`): signature against the tenant JWKS,
 * pinned ES256, ≤ 60 s skew, trust domain = key tenant, not revoked, current credential
 * generation. The tenant comes only from the verified token.
 */
export async function verifyAgentToken(token: string, verifier: Pick<SvidVerifier, 'verify'>): Promise<AuthContext> {
  try {
    const s = await verifier.verify(token, { audience: ARX_AUDIENCE });
    return {
      tenantId: s.tenantId,
      subject: s.spiffeId,
      roles: ['agent'],
      principalType: 'agent',
      agentId: s.agentId,
      spiffeId: s.spiffeId,
      // F19: a narrowed token stays narrowed on ARX's own API (checked by identity/scope.ts).
      ...(s.scope ? { scope: s.scope } : {}),
    };
  } catch (e) {
    throw new UnauthorizedError('invalid agent token', { cause: e });
  }
}
