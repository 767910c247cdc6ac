/**
 * `arx policy validate|push|diff|promote`
 *
 *   arx policy validate <policy.yaml | policies.cedar --schema schema.cedarschema [--entities entities.json]>
 *   arx policy push     <same inputs> [--promote]
 *   arx policy diff     <bundle_id> <prev_bundle_id>
 *   arx policy promote  <bundle_id>
 *
 * push/diff/promote talk to the API (--api URL, else ARX_API_URL, else .arx/dev.json) with the
 * bearer token in ARX_TOKEN (else the admin token in .arx/dev.json). validate runs locally with
 * the same strict validator the API uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileBundle, type BundleInput } from '../../lambdas/policy/index.js';
import { parse as parseYaml } from 'yaml';
import { CONNECTORS } from '../../lambdas/actions/index.js';
import { defaultIo, endpoint, parseArgs, type CliIo } from '../io.js';
import type { ResponseOf } from '../../sdk/contract.gen.js';

export type { CliIo } from '../io.js';

const USAGE = `usage:
  arx policy validate <policy.yaml | policies.cedar --schema <file> [--entities <file>]>
  arx policy push <policy.yaml | policies.cedar --schema <file> [--entities <file>]> [--promote] [--api <url>]
  arx policy diff <bundle_id> <prev_bundle_id> [--api <url>]
  arx policy promote <bundle_id> [--api <url>]
`;

/** Reads the bundle input a file names: YAML policy document, or Cedar policies with a schema. */
export function readBundleInput(file: string, flags: Record<string, string | true>, cwd: string): BundleInput {
  const p = (f: string) => (f.startsWith('/') ? f : join(cwd, f));
  const text = readFileSync(p(file), 'utf8');
  if (/\.ya?ml$/i.test(file)) return { format: 'yaml', document: text };
  if (typeof flags.schema !== 'string') throw new Error('a Cedar policy file needs --schema <file>');
  const entities =
    typeof flags.entities === 'string' ? (JSON.parse(readFileSync(p(flags.entities), 'utf8')) as unknown[]) : undefined;
  return {
    format: 'cedar',
    schema: readFileSync(p(flags.schema), 'utf8'),
    policies: text,
    ...(entities ? { entities } : {}),
  };
}

async function call(
  io: CliIo,
  flags: Record<string, string | true>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const { api, token } = endpoint(flags, io, 'admin');
  const r = await io.fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: r.status, json };
}

function problem(io: CliIo, status: number, json: unknown): number {
  const p = json as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
  io.err(`error ${status}: ${p?.title ?? ''}${p?.detail ? ` — ${p.detail}` : ''}\n`);
  for (const e of p?.errors ?? []) io.err(`  ${e.path}: ${e.message}\n`);
  return 1;
}

export async function run(args: string[], io: CliIo = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, flags } = parseArgs(rest, (name) => name === 'promote' || name === 'json');
  try {
    switch (sub) {
      case 'validate': {
        if (!pos[0]) break;
        const input = readBundleInput(pos[0], flags, io.cwd);
        const r = compileBundle(input, {
          tenantId: 'local',
          bundleId: 'local',
          version: 0,
          createdAt: new Date(0).toISOString(),
          revokedAgentIds: [],
        });
        if (!r.ok) {
          io.err(`invalid: ${r.errors.length} problem(s)\n`);
          for (const e of r.errors) io.err(`  ${e.path}: ${e.message}\n`);
          return 1;
        }
        io.out(`valid: ${r.content.policies.length} policies, ${r.content.risk.length} risk policies\n`);
        if ('document' in input) for (const w of catalogWarnings(input.document)) io.err(`warning: ${w}\n`);
        return 0;
      }
      case 'push': {
        if (!pos[0]) break;
        const input = readBundleInput(pos[0], flags, io.cwd);
        const pushed = await call(io, flags, 'POST', '/v1/policies/bundles', input);
        if (pushed.status !== 201) return problem(io, pushed.status, pushed.json);
        io.out(`${JSON.stringify(pushed.json)}\n`);
        if (flags.promote) {
          const id = (pushed.json as ResponseOf<'POST /v1/policies/bundles', 201>).bundle_id;
          const pr = await call(io, flags, 'POST', `/v1/policies/bundles/${encodeURIComponent(id)}/promote`);
          if (pr.status !== 200) return problem(io, pr.status, pr.json);
          io.out(`${JSON.stringify(pr.json)}\n`);
        }
        return 0;
      }
      case 'promote': {
        if (!pos[0]) break;
        const pr = await call(io, flags, 'POST', `/v1/policies/bundles/${encodeURIComponent(pos[0])}/promote`);
        if (pr.status !== 200) return problem(io, pr.status, pr.json);
        io.out(`${JSON.stringify(pr.json)}\n`);
        return 0;
      }
      case 'diff': {
        if (!pos[0] || !pos[1]) break;
        const d = await call(
          io,
          flags,
          'GET',
          `/v1/policies/bundles/${encodeURIComponent(pos[0])}/diff/${encodeURIComponent(pos[1])}`,
        );
        if (d.status !== 200) return problem(io, d.status, d.json);
        if (flags.json) {
          io.out(`${JSON.stringify(d.json, null, 2)}\n`);
          return 0;
        }
        const x = d.json as ResponseOf<'GET /v1/policies/bundles/{id}/diff/{prev_id}', 200>;
        for (const p of x.added) io.out(`+ ${p.id}\n`);
        for (const p of x.removed) io.out(`- ${p.id}\n`);
        for (const p of x.changed) io.out(`~ ${p.id}\n`);
        io.out(
          `${x.added.length} added, ${x.removed.length} removed, ${x.changed.length} changed, ${x.unchanged} unchanged${x.schema_changed ? ', schema changed' : ''}${x.risk_changed ? ', risk table changed' : ''}\n`,
        );
        return 0;
      }
    }
  } catch (e) {
    io.err(`arx policy: ${(e as Error).message}\n`);
    return 1;
  }
  io.err(USAGE);
  return 2;
}

/**
 * Operations a YAML policy names that no shipped connector offers (a typo, or a connector that
 * does not exist), one warning each. A pattern with `*` warns when it matches nothing.
 */
export function catalogWarnings(
  document: string,
  connectors: ReadonlyMap<string, { operations: Readonly<Record<string, unknown>> }> = CONNECTORS,
): string[] {
  let entries: unknown;
  try {
    entries = parseYaml(document);
  } catch {
    return [];
  }
  const warnings: string[] = [];
  for (const e of Array.isArray(entries) ? entries : []) {
    const { name, connector, operations } = (e ?? {}) as {
      name?: string;
      connector?: string;
      operations?: Record<string, unknown>;
    };
    if (typeof connector !== 'string' || !operations || typeof operations !== 'object') continue;
    const c = connectors.get(connector);
    if (!c) {
      warnings.push(
        `policy ${String(name)}: no connector named "${connector}" (known: ${[...connectors.keys()].join(', ')})`,
      );
      continue;
    }
    const offered = Object.keys(c.operations);
    for (const pattern of Object.keys(operations)) {
      if (!offered.some((op) => globMatch(pattern, op)))
        warnings.push(`policy ${String(name)}: connector "${connector}" offers no operation matching "${pattern}"`);
    }
  }
  return warnings;
}

/** `*` matches any run of characters; everything else literally (no regex, linear in the input). */
function globMatch(pattern: string, s: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === s;
  if (!s.startsWith(parts[0]!) || !s.endsWith(parts.at(-1)!)) return false;
  let at = parts[0]!.length;
  for (const mid of parts.slice(1, -1)) {
    const k = s.indexOf(mid, at);
    if (k < 0) return false;
    at = k + mid.length;
  }
  return at <= s.length - parts.at(-1)!.length;
}
