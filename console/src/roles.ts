import type { ConsoleConfig, Session } from './auth.js';

export interface PageProps {
  readonly session: Session;
  readonly config: ConsoleConfig;
  /** The rest of the route after the page name (e.g. a trace id). */
  readonly rest: string;
}

/** Whether the signed-in user holds one of `roles` (from the token's roles claim). */
export const hasRole = (s: Session, ...roles: string[]): boolean => roles.some((r) => s.roles.includes(r));
