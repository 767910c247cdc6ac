/**
 * `npm run gen:contract`: writes `sdk/contract.gen.ts`, the TypeScript types of every route's
 * response bodies, from the response schemas the topology declares (the same JSON Schemas
 * `/openapi.json` carries). The SDK and the CLI import their wire types from it, so they cannot
 * drift from what the API answers; test/unit/shared/contract.test.ts fails when the checked-in
 * file is not a fresh generation.
 *
 * The output is self-contained (no imports): the packaged SDK is dependency-free compiled JS.
 *
 *   npx tsx scripts/gen-contract.ts [--check]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { responseContentType, SchemaSet } from '../lambdas/platform/core/openapi.js';
import { ErrorBody } from '../lambdas/shared/responses.js';
import { routeKey } from '../lambdas/shared/topology-types.js';
import { TOPOLOGY } from '../lambdas/topology.js';

type Json = Record<string, unknown>;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CONTRACT_FILE = join(root, 'sdk', 'contract.gen.ts');

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string): string => (IDENT.test(k) ? k : JSON.stringify(k));
const refName = (ref: string): string => ref.slice(ref.lastIndexOf('/') + 1);

function doc(s: Json, indent: string): string {
  const d = typeof s.description === 'string' ? s.description : undefined;
  return d ? `${indent}/** ${d.replace(/\*\//g, '*\\/')} */\n` : '';
}

/** TypeScript for one JSON Schema (the subset zod's `toJSONSchema` writes). */
export function tsType(s: unknown, indent = ''): string {
  if (s === true || s === undefined) return 'unknown';
  if (s === false) return 'never';
  const j = s as Json;
  if (typeof j.$ref === 'string') return refName(j.$ref);
  if ('const' in j) return JSON.stringify(j.const);
  if (Array.isArray(j.enum)) return j.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = (j.anyOf ?? j.oneOf) as unknown[] | undefined;
  if (union) return union.map((x) => wrap(tsType(x, indent))).join(' | ');
  if (Array.isArray(j.allOf)) return j.allOf.map((x) => wrap(tsType(x, indent))).join(' & ');
  if (Array.isArray(j.type)) return j.type.map((t) => tsType({ ...j, type: t }, indent)).join(' | ');
  switch (j.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      if (Array.isArray(j.prefixItems)) return `readonly [${j.prefixItems.map((x) => tsType(x, indent)).join(', ')}]`;
      {
        const item = wrap(tsType(j.items, indent));
        return `readonly ${item.startsWith('readonly ') ? `(${item})` : item}[]`;
      }
    case 'object':
      return objectType(j, indent);
    default:
      return 'unknown';
  }
}

/** Parenthesises a union or intersection (outside any braces) so it can take `[]` or join another. */
function wrap(t: string): string {
  let depth = 0;
  for (const c of t) {
    if (c === '{' || c === '(' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ')' || c === ']' || c === '>') depth--;
    else if ((c === '|' || c === '&') && depth === 0) return `(${t})`;
  }
  return t;
}

function objectType(j: Json, indent: string): string {
  const props = (j.properties ?? {}) as Record<string, Json>;
  const required = new Set((j.required ?? []) as string[]);
  const inner = `${indent}  `;
  const lines = Object.entries(props).map(
    ([k, v]) => `${doc(v, inner)}${inner}readonly ${key(k)}${required.has(k) ? '' : '?'}: ${tsType(v, inner)};`,
  );
  const extra = j.additionalProperties;
  if (extra !== undefined && extra !== false) {
    if (lines.length === 0) return `Readonly<Record<string, ${tsType(extra, indent)}>>`;
    lines.push(`${inner}readonly [key: string]: unknown;`);
  }
  return lines.length ? `{\n${lines.join('\n')}\n${indent}}` : 'Record<string, never>';
}

/** The file's text: named components, then one entry per route and status. */
export function generateContract(): string {
  const set = new SchemaSet();
  set.add(ErrorBody, 'output');
  const routes: string[] = [];
  for (const r of TOPOLOGY.routes) {
    const specs = [...(r.response ? [r.response] : []), ...(r.otherResponses ?? [])];
    const entries = specs.map((spec) => {
      const body = !spec.schema
        ? 'undefined'
        : responseContentType(spec).startsWith('text/')
          ? 'string'
          : tsType(set.add(spec.schema, 'output'), '    ');
      return `${doc({ description: spec.description }, '    ')}    ${spec.status}: ${body};`;
    });
    routes.push(
      `  /** ${r.summary.replace(/\*\//g, '*\\/')} */\n  ${JSON.stringify(routeKey(r))}: {\n${entries.join('\n')}\n  };`,
    );
  }
  const components = Object.entries(set.sorted()).map(([name, s]) => {
    const t = tsType(s);
    const head = doc(s, '');
    return s.type === 'object' && t.startsWith('{')
      ? `${head}export interface ${name} ${t}\n`
      : `${head}export type ${name} = ${t};\n`;
  });
  const text = [
    '// Generated by scripts/gen-contract.ts from the response schemas the routes declare',
    '// (lambdas/<capability>/topology.ts, lambdas/<capability>/schemas.ts). Do not edit: run `npm run gen:contract`.',
    '',
    ...components,
    '/** Every route (`METHOD /path`) and the body of each status it answers with; other errors are `Problem` or `GatewayError`. */',
    'export interface RouteResponses {',
    ...routes,
    '}',
    '',
    '/** The body route `K` answers with status `S`. */',
    'export type ResponseOf<K extends keyof RouteResponses, S extends keyof RouteResponses[K]> = RouteResponses[K][S];',
    '',
  ].join('\n');
  // The repository's formatter (pinned in package.json) gives the file the house style.
  return execFileSync(
    join(root, 'node_modules', '.bin', 'biome'),
    ['format', '--stdin-file-path=sdk/contract.gen.ts'],
    { cwd: root, input: text, encoding: 'utf8' },
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = generateContract();
  if (process.argv.includes('--check')) {
    if (readFileSync(CONTRACT_FILE, 'utf8') !== text) {
      process.stderr.write('sdk/contract.gen.ts is stale: run npm run gen:contract\n');
      process.exit(1);
    }
  } else {
    writeFileSync(CONTRACT_FILE, text);
    process.stdout.write('wrote sdk/contract.gen.ts\n');
  }
}
