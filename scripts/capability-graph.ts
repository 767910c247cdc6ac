/**
 * The capability import graph of `lambdas/`, `layers/`, `sdk/` and `cli/`, read from the import
 * and export declarations of every .ts file (type-only imports included: they couple the code as
 * much as value imports do).
 *
 * A capability is `lambdas/<cap>/`; its public face is `lambdas/<cap>/index.ts`. Outside code
 * (another capability, a layer, the SDK, the CLI) may import only that facade; `lambdas/shared/`
 * imports no capability at all. The one exception is `lambdas/topology.ts`, which composes every
 * capability's `topology.ts`.
 *
 * @example
 * npx tsx scripts/capability-graph.ts   # prints the graph, then any violation and cycle
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WALKED = ['lambdas', 'layers', 'sdk', 'cli'];

/** One import (or re-export) of a file under ROOT by another. Paths are relative to ROOT. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
}

export interface CapabilityGraph {
  readonly files: readonly string[];
  /** Every relative import between walked files. */
  readonly imports: readonly ImportEdge[];
  /** Node of each file: a capability name, `shared`, a layer (`pdp-extension`), `sdk`, `cli`, or null (the top-level topology). */
  nodeOf(file: string): string | null;
  /** Imports that cross from one node into a capability. */
  readonly crossing: readonly ImportEdge[];
  /** Crossing imports that bypass the target's facade (or reach a capability from `shared`). */
  readonly violations: readonly ImportEdge[];
  /** `from → to/<entry>` counts, where entry is `index` for the facade, else the first path segment. */
  readonly counts: ReadonlyMap<string, number>;
  /** Node-level edges. */
  readonly edges: ReadonlyMap<string, ReadonlySet<string>>;
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
}

/** Every module specifier of a file: imports, re-exports, `import()` and `require()`. */
export function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Resolves a relative `.js` specifier to the .ts file it names (NodeNext style), relative to ROOT. */
function resolveSpecifier(fromFile: string, spec: string, known: ReadonlySet<string>): string | null {
  if (!spec.startsWith('.')) return null;
  const abs = resolve(ROOT, dirname(fromFile), spec);
  for (const c of [abs.replace(/\.js$/, '.ts'), abs, `${abs}.ts`, join(abs, 'index.ts')]) {
    const rel = relative(ROOT, c);
    if (known.has(rel)) return rel;
  }
  return null;
}

export function nodeOf(file: string): string | null {
  const p = file.split('/');
  if (p[0] === 'lambdas') return p.length === 2 ? null : p[1]!;
  if (p[0] === 'layers') return p[1]!;
  return p[0]!;
}

const isCapability = (file: string): boolean => {
  const p = file.split('/');
  return p[0] === 'lambdas' && p.length > 2 && p[1] !== 'shared';
};

/** Builds the graph of the repository at ROOT (or of another root, for tests). */
export function capabilityGraph(root = ROOT): CapabilityGraph {
  const abs: string[] = [];
  for (const d of WALKED) {
    try {
      walk(join(root, d), abs);
    } catch {
      /* a folder the checkout does not have */
    }
  }
  const files = abs.map((f) => relative(root, f)).sort();
  const known = new Set(files);
  const imports: ImportEdge[] = [];
  for (const from of files) {
    for (const specifier of specifiersOf(readFileSync(join(root, from), 'utf8'))) {
      const to = resolveSpecifier(from, specifier, known);
      if (to) imports.push({ from, to, specifier });
    }
  }
  const crossing = imports.filter((i) => isCapability(i.to) && nodeOf(i.from) !== nodeOf(i.to));
  const violations = crossing.filter((i) => {
    const target = i.to.split('/');
    if (nodeOf(i.from) === null) return target[2] !== 'topology.ts'; // lambdas/topology.ts composes topologies
    if (nodeOf(i.from) === 'shared') return true;
    return !(target.length === 3 && target[2] === 'index.ts');
  });
  const counts = new Map<string, number>();
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const a = nodeOf(i.from);
    const b = nodeOf(i.to);
    if (a === null || b === null || a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
    if (!isCapability(i.to)) continue;
    const entry = i.to.split('/').slice(2);
    const key = `${a}→${b}/${entry.length === 1 ? entry[0]!.replace(/\.ts$/, '') : entry[0]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { files, imports, nodeOf, crossing, violations, counts, edges };
}

/**
 * Imports that still close a capability cycle, each pinned to the one file it comes from. They
 * are composition roots that wire two capabilities which call each other at run time:
 * - identity's credential-issuing function reads the action it issues for (actions) and audits
 *   registry changes (audit), while actions calls identity's broker and audit signs with
 *   identity's tenant keys;
 * - observability's trace view reads actions and approvals, while actions consults observability's
 *   budgets;
 * - policy's recommendations function reads decided approvals (actions) and drift, while actions
 *   decides through policy and drift checks agents in policy's inventory reader.
 * Removing one of these means deleting its line here; adding one fails test/unit/boundaries.test.ts.
 */
export const PINNED_BACK_EDGES: readonly { from: string; to: string }[] = [
  { from: 'lambdas/identity/handlers/credentials.ts', to: 'actions' },
  { from: 'lambdas/identity/handlers/credentials.ts', to: 'audit' },
  { from: 'lambdas/observability/adapters/lookups.ts', to: 'actions' },
  // graduated autonomy's composition root reads approvals and drift, both of which decide through policy
  { from: 'lambdas/policy/handlers/recommendations.ts', to: 'actions' },
  { from: 'lambdas/policy/handlers/recommendations.ts', to: 'drift' },
];

/** Node-level edges of `g`, leaving out the imports `skip` names. */
export function edgesWithout(
  g: CapabilityGraph,
  skip: (from: string, to: string) => boolean,
): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const i of g.imports) {
    const a = g.nodeOf(i.from);
    const b = g.nodeOf(i.to);
    if (a === null || b === null || a === b || skip(i.from, i.to)) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return edges;
}

/** The strongly connected components with more than one node (or a self-loop): each is a cycle's node set. */
export function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  // Tarjan's algorithm
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const nodes = new Set<string>([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])]);
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edges.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) visit(n);
  return out;
}

/** The graph in the form: `cap→other/entry(n), …` per capability, one line each. */
export function formatGraph(g: CapabilityGraph): string {
  const by = new Map<string, string[]>();
  for (const [k, n] of [...g.counts].sort(([a], [b]) => a.localeCompare(b))) {
    const [from, target] = k.split('→') as [string, string];
    if (!by.has(from)) by.set(from, []);
    by.get(from)!.push(n > 1 ? `${target}(${n})` : target);
  }
  return [...by].map(([from, ts]) => `${from}→${ts.join(', ')}`).join('\n');
}

/** Every file the module `entry` loads, following relative imports (type-only ones excluded) and naming bare packages. */
export function transitiveImports(entry: string, root = ROOT): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const f = queue.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    const src = ts.createSourceFile(f, readFileSync(join(root, f), 'utf8'), ts.ScriptTarget.ES2022, false);
    for (const spec of runtimeSpecifiers(src)) {
      if (spec.startsWith('.')) {
        const abs = resolve(root, dirname(f), spec);
        for (const c of [abs.replace(/\.js$/, '.ts'), abs]) {
          try {
            readFileSync(c);
            queue.push(relative(root, c));
            break;
          } catch {
            /* next candidate */
          }
        }
      } else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

/** Specifiers a module loads at run time: type-only imports and exports are erased. */
function runtimeSpecifiers(src: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const typeOnly =
        c?.isTypeOnly ||
        (c &&
          !c.name &&
          c.namedBindings &&
          ts.isNamedImports(c.namedBindings) &&
          c.namedBindings.elements.length > 0 &&
          c.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly =
        n.isTypeOnly ||
        (n.exportClause &&
          ts.isNamedExports(n.exportClause) &&
          n.exportClause.elements.length > 0 &&
          n.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] &&
      ts.isStringLiteral(n.arguments[0])
    ) {
      out.push(n.arguments[0].text);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const g = capabilityGraph();
  console.log(formatGraph(g));
  console.log(
    `\n${g.files.length} files, ${g.crossing.length} imports into another capability, ${g.violations.length} past a facade`,
  );
  for (const v of g.violations) console.log(`  ${v.from} imports ${v.specifier}`);
  for (const c of cyclesOf(g.edges)) console.log(`cycle among: ${c.join(', ')}`);
  for (const p of PINNED_BACK_EDGES) console.log(`  pinned back-edge: ${p.from} → ${p.to}`);
  const pinned = (from: string, to: string) => PINNED_BACK_EDGES.some((p) => p.from === from && p.to === nodeOf(to));
  const cycles = cyclesOf(edgesWithout(g, pinned));
  for (const c of cycles) console.log(`cycle beyond the pinned back-edges, among: ${c.join(', ')}`);
  process.exitCode = g.violations.length || cycles.length ? 1 : 0;
}
