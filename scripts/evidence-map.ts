#!/usr/bin/env -S npx tsx
/**
 * `npm run evidence-map`: walks the source for `// control: <framework>:<control_id>[, …]`
 * annotations and writes evidence_map.json at the repo root: the static (event type, condition)
 * → controls mapping of lambdas/audit/core/evidence.ts, plus for every control the source
 * ranges (`file:start-end@commit`) of the code paths that produce its evidence (seed C4.1).
 *
 *   npx tsx scripts/evidence-map.ts [--out evidence_map.json] [--check]
 *
 * `--check` exits 1 when an annotation names a control the mapping does not know, or when the
 * committed file is stale.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_TITLES, FRAMEWORKS, MAPPING, parseTag } from '../lambdas/audit/core/evidence.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOTS = ['lambdas', 'layers', 'sdk', 'cli', 'local'];
const ANNOTATION = /^\s*\/\/\s*control:\s*(.+)$/;

export interface Annotation {
  readonly tag: string;
  readonly file: string;
  readonly start: number;
  readonly end: number;
  /** Set for attributions derived from an event-type literal at an AuditSink call site. */
  readonly event_type?: string;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'node_modules' || f.startsWith('.')) return [];
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|js|mjs)$/.test(f) ? [p] : [];
  });
}

/** Annotations of one file; the range runs from the annotation to the end of the statement block after it. */
export function scan(text: string, file: string): Annotation[] {
  const lines = text.split('\n');
  const out: Annotation[] = [];
  lines.forEach((line, i) => {
    const m = ANNOTATION.exec(line);
    if (!m) return;
    let end = i + 1;
    let depth = 0;
    for (let j = i + 1; j < Math.min(lines.length, i + 60); j++) {
      const l = lines[j]!;
      if (j > i + 1 && l.trim() === '' && depth <= 0) break;
      if (ANNOTATION.test(l) && j > i + 1) break;
      depth += (l.match(/[({[]/g) ?? []).length - (l.match(/[)}\]]/g) ?? []).length;
      end = j + 1;
      if (depth <= 0 && /[;,]\s*$|^\s*[)}\]]/.test(l) && j > i) break;
    }
    for (const tag of m[1]!.split(/[,\s]+/).filter(Boolean)) out.push({ tag, file, start: i + 1, end });
  });
  return out;
}

const EVENT_TYPE_LITERAL =
  /['"]((?:policy\.decision|decision\.[a-z_]+|operation\.[a-z_]+|identity\.[a-z_.]+|bundle\.[a-z_]+|agent\.terminated[a-z_.]*|connector\.[a-z_]+))['"]/g;

function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/**
 * Derived attribution: in files that write to the AuditSink (`.record(` beside `audit`), every
 * event-type literal is a code path producing evidence for the controls its rules map to.
 */
export function scanEventTypes(text: string, file: string): Annotation[] {
  if (!/\.record\(/.test(text) || !/audit/i.test(text)) return [];
  const out: Annotation[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(EVENT_TYPE_LITERAL)) {
      const type = m[1]!;
      const tags = new Set(
        MAPPING.filter((r) => r.event_type !== '*' && typeMatches(r.event_type, type)).flatMap((r) => r.controls),
      );
      for (const rule of MAPPING.filter((r) => r.event_type === '*')) for (const c of rule.controls) tags.add(c);
      for (const tag of tags) out.push({ tag, file, start: i + 1, end: i + 1, event_type: type });
    }
  });
  return out;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function buildEvidenceMap(sha = commit()) {
  const files = ROOTS.flatMap((r) => walk(join(root, r))).map((f) => ({
    rel: relative(root, f),
    text: readFileSync(f, 'utf8'),
  }));
  const explicit = files.flatMap((f) => scan(f.text, f.rel));
  const derived = files
    .filter((f) => !f.rel.startsWith('lambdas/audit/'))
    .flatMap((f) => scanEventTypes(f.text, f.rel));
  const annotations = [...explicit, ...derived];
  const unknown = explicit.filter((a) => !parseTag(a.tag) || !MAPPING.some((r) => r.controls.includes(a.tag)));
  const controls: Record<string, { title: string; rules: string[]; source_attribution: string[] }> = {};
  for (const rule of MAPPING) {
    for (const tag of rule.controls) {
      controls[tag] ??= { title: CONTROL_TITLES[tag] ?? tag, rules: [], source_attribution: [] };
      controls[tag].rules.push(rule.id);
    }
  }
  for (const a of annotations) {
    const c = controls[a.tag];
    const ref = `${a.file}:${a.start}-${a.end}@${sha}${a.event_type ? ` (${a.event_type})` : ''}`;
    if (c && !c.source_attribution.includes(ref)) c.source_attribution.push(ref);
  }
  return {
    map: {
      format: 'arx.evidence-map.v1',
      release_sha: sha,
      frameworks: FRAMEWORKS,
      mapping: MAPPING.map((r) => ({
        id: r.id,
        event_type: r.event_type,
        condition: r.condition,
        controls: r.controls,
      })),
      controls: Object.fromEntries(Object.entries(controls).sort(([a], [b]) => a.localeCompare(b))),
    },
    unknown,
  };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('evidence-map.ts')) {
  const args = process.argv.slice(2);
  const out = join(root, args.includes('--out') ? args[args.indexOf('--out') + 1]! : 'evidence_map.json');
  const { map, unknown } = buildEvidenceMap();
  for (const u of unknown) process.stderr.write(`evidence-map: ${u.file}:${u.start} names unmapped control ${u.tag}\n`);
  const attributed = Object.values(map.controls).filter((c) => c.source_attribution.length > 0).length;
  if (args.includes('--check')) {
    process.exit(unknown.length > 0 ? 1 : 0);
  }
  writeFileSync(out, `${JSON.stringify(map, null, 2)}\n`);
  process.stdout.write(
    `evidence-map: ${Object.keys(map.controls).length} controls, ${attributed} with source attribution @ ${map.release_sha.slice(0, 12)} → ${relative(root, out)}\n`,
  );
  process.exit(unknown.length > 0 ? 1 : 0);
}
