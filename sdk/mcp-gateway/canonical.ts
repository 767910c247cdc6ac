/**
 * Canonical JSON (keys sorted, no whitespace) and the hashes the gateway binds decisions to:
 * a tool's definition hash (pinning) and a call's argument hash (approval binding).
 */
import { createHash } from 'node:crypto';

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The parts of a tool that change what a call does or what the model is told: all of them but `_meta`. */
export function toolDefinitionHash(tool: {
  name: string;
  title?: unknown;
  description?: unknown;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
  execution?: unknown;
}): string {
  const { name, title, description, inputSchema, outputSchema, annotations, execution } = tool;
  return sha256(canonicalJson({ name, title, description, inputSchema, outputSchema, annotations, execution }));
}

export const argumentsHash = (args: unknown): string => sha256(canonicalJson(args ?? {}));

/**
 * The policy operation for an MCP name: `tools:<tool>` with characters the policy grammar does not
 * allow (anything but letters, digits and `_`) written as `_` (`get-sum` → `tools:get_sum`).
 */
export const operationName = (kind: 'tools' | 'prompts', name: string): string =>
  `${kind}:${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
