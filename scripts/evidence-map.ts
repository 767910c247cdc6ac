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
const ANNOTATION = /\/\/\s*control:\s*(.+)$/;

export interface Annotation {
  readonly tag: string;
  readonly file: string;
  readonly start: number;
  readonly end: number;
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

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function buildEvidenceMap(sha = commit()) {
  const annotations = ROOTS.flatMap((r) => walk(join(root, r))).flatMap((f) => scan(readFileSync(f, 'utf8'), relative(root, f)));
  const unknown = annotations.filter((a) => !parseTag(a.tag) || !MAPPING.some((r) => r.controls.includes(a.tag)));
  const controls: Record<string, { title: string; rules: string[]; source_attribution: string[] }> = {};
  for (const rule of MAPPING) {
    for (const tag of rule.controls) {
      controls[tag] ??= { title: CONTROL_TITLES[tag] ?? tag, rules: [], source_attribution: [] };
      controls[tag].rules.push(rule.id);
    }
  }
  for (const a of annotations) {
    const c = controls[a.tag];
    if (c) c.source_attribution.push(`${a.file}:${a.start}-${a.end}@${sha}`);
  }
  return {
    map: {
      format: 'arx.evidence-map.v1',
      release_sha: sha,
      frameworks: FRAMEWORKS,
      mapping: MAPPING.map((r) => ({ id: r.id, event_type: r.event_type, condition: r.condition, controls: r.controls })),
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
  writeFileSync(out, JSON.stringify(map, null, 2) + '\n');
  process.stdout.write(`evidence-map: ${Object.keys(map.controls).length} controls, ${attributed} with source attribution @ ${map.release_sha.slice(0, 12)} → ${relative(root, out)}\n`);
  process.exit(unknown.length > 0 ? 1 : 0);
}
