import type { Risk } from '../../shared/ports.js';
import { ConnectorError, type AgentInfo, type SecretStore } from './model.js';

/** Longest hold of a `hitl` action (F21b): a policy asking for more gets this. */
export const MAX_HITL_TIMEOUT_S = 7 * 86400;

/** Largest params object a governed action accepts, as JSON (F3: bounded work on caller input). */
export const MAX_PARAMS_BYTES = 64 * 1024;

/** The approval hold in seconds: the policy's, else the default, never above {@link MAX_HITL_TIMEOUT_S}. */
export function holdSeconds(requested: number | undefined, fallback: number): number {
  const s = requested && requested > 0 ? requested : fallback;
  return Math.min(s, MAX_HITL_TIMEOUT_S);
}

/** Separation of duties: what the policy asks for, and always for high and critical risk (F10). */
export function separationRequired(risk: Risk, requested: boolean | undefined): boolean {
  return requested === true || risk === 'high' || risk === 'critical';
}

/**
 * Why the agent may not act now (F21b), or null when it may: only an `active` agent in the
 * inventory acts; a missing, suspended, revoked or terminated one never does.
 */
export function inactiveReason(info: AgentInfo | null): string | null {
  if (!info) return 'the agent is not in the inventory';
  return info.status === 'active' ? null : `the agent is ${info.status}`;
}

/** Field of a stored connector secret naming the origin it may be sent to (F12a). */
export const BOUND_ORIGIN = 'arx_bound_origin';

/** Origin of a connector config's `base_url`, or null for connectors without one (aws). */
export function configOrigin(config: Record<string, unknown> | null | undefined): string | null {
  // A vendor `site` (Datadog) names its API origin as surely as a base_url does.
  // An MCP connector's secret goes to its upstream `url`.
  const base =
    typeof config?.base_url === 'string'
      ? config.base_url
      : typeof config?.site === 'string'
        ? `https://api.${config.site}`
        : config?.kind === 'mcp' && typeof config.url === 'string'
          ? config.url
          : undefined;
  if (typeof base !== 'string') return null;
  try {
    return new URL(base).origin;
  } catch {
    return null;
  }
}

/** The secret as stored: bound to the config's origin when it has one. */
export function bindSecret(secret: Record<string, string>, config: Record<string, unknown>): Record<string, string> {
  const origin = configOrigin(config);
  return origin ? { ...secret, [BOUND_ORIGIN]: origin } : { ...secret };
}

/**
 * Reads a connector secret for a call to `config`'s origin. A secret bound to another origin (or
 * stored before binding existed) is never handed to the connector: the call fails before anything is sent.
 */
export async function readBoundSecret(
  secrets: SecretStore,
  name: string,
  config: Record<string, unknown> | null,
): Promise<Record<string, string> | null> {
  const stored = await secrets.get(name);
  if (!stored) return null;
  const { [BOUND_ORIGIN]: bound, ...secret } = stored;
  const origin = configOrigin(config);
  if (origin !== null && bound !== origin) {
    throw new ConnectorError(
      'the connector secret is bound to another origin; PUT the connector again with its secret for this base_url',
      'secret_origin_mismatch',
      false,
    );
  }
  return secret;
}
