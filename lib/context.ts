import type { Node } from 'constructs';
import type { ArxStackProps } from './arx-stack.js';

/** Raised when cdk.json (or `-c`) context for the stack is missing or malformed. */
export class ContextError extends Error {
  override readonly name = 'ContextError';
}

const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Reads the stack props from context (`arx:idpIssuer`, `arx:idpAudience`, `arx:idpJwksUrl`,
 * `arx:idpTenantClaim`, `arx:idpRolesClaim`, `arx:tenants`, optional `arx:svidIssuerBase`) and
 * fails fast naming every problem.
 *
 * @example
 * new ArxStack(app, 'Arx', propsFromContext(app.node));
 */
export function propsFromContext(node: Node): Pick<ArxStackProps, 'idp' | 'tenants' | 'svidIssuerBase'> {
  const problems: string[] = [];
  const str = (key: string, opts: { url?: boolean; optional?: boolean } = {}): string => {
    const v: unknown = node.tryGetContext(key);
    if (v === undefined || v === null || v === '') {
      if (!opts.optional) problems.push(`${key} is missing (set it in cdk.json "context" or with -c ${key}=...)`);
      return '';
    }
    if (typeof v !== 'string') {
      problems.push(`${key} must be a string, got ${JSON.stringify(v)}`);
      return '';
    }
    if (opts.url) {
      let u: URL | undefined;
      try {
        u = new URL(v);
      } catch {
        /* reported below */
      }
      if (u?.protocol !== 'https:') problems.push(`${key} must be an https:// URL, got "${v}"`);
    }
    return v;
  };
  const issuer = str('arx:idpIssuer', { url: true });
  const audience = str('arx:idpAudience');
  const jwksUrl = str('arx:idpJwksUrl', { url: true });
  const tenantClaim = str('arx:idpTenantClaim');
  const rolesClaim = str('arx:idpRolesClaim');
  const svidIssuerBase = str('arx:svidIssuerBase', { url: true, optional: true }) || undefined;

  let raw: unknown = node.tryGetContext('arx:tenants');
  // `-c arx:tenants=acme,globex` arrives as a string; cdk.json gives an array.
  if (typeof raw === 'string') raw = raw.startsWith('[') ? safeJson(raw) : raw.split(',').map((t) => t.trim());
  let tenants: string[] = [];
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push('arx:tenants must be a non-empty list of tenant ids, e.g. ["acme"]');
  } else {
    tenants = raw.map(String);
    const bad = tenants.filter((t) => !TENANT_ID.test(t));
    if (bad.length)
      problems.push(`arx:tenants has invalid tenant id(s) ${JSON.stringify(bad)} (lowercase letters, digits, "-")`);
    if (new Set(tenants).size !== tenants.length) problems.push('arx:tenants has duplicates');
  }
  if (problems.length) throw new ContextError(`ARX stack context is invalid:\n  - ${problems.join('\n  - ')}`);
  return { idp: { issuer, audience, jwksUrl, tenantClaim, rolesClaim }, tenants, svidIssuerBase };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
