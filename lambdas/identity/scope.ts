/**
 * SVID scope on ARX's own API (F19). A JWT-SVID may be narrowed by token exchange to a scope
 * (`okta:users:read …`); the authorizer carries it in the auth context, and `POST /v1/actions`
 * refuses a `connector:operation` outside it. A token without scope is not narrowed (policy
 * still decides); humans carry no scope.
 */
import { ForbiddenError } from '../shared/errors.js';
import type { AuthContext } from '../shared/http.js';

/**
 * True when `action` (`connector:operation`) is inside `scope`: a scope token equal to it, or a
 * token ending in `*` whose prefix it starts with (`okta:users:*`). `null`/`undefined` scope
 * means not narrowed.
 *
 * @example
 * scopeAllows(['okta:users:read'], 'okta:users:read'); // true
 * scopeAllows(['okta:users:read'], 'okta:users:deactivate'); // false
 */
export function scopeAllows(scope: readonly string[] | null | undefined, action: string): boolean {
  if (scope === null || scope === undefined) return true;
  return scope.some((s) => (s.endsWith('*') ? action.startsWith(s.slice(0, -1)) : s === action));
}

/**
 * Throws a 403 when the caller's SVID scope does not cover `connector:operation`.
 * @example
 * assertActionInScope(req.auth, req.body.connector, req.body.operation);
 */
export function assertActionInScope(auth: AuthContext | null, connector: string, operation: string): void {
  const action = `${connector}:${operation}`;
  if (!scopeAllows(auth?.scope, action)) {
    throw new ForbiddenError(`the token's scope does not cover ${action}`);
  }
}
