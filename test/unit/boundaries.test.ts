import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PINNED_BACK_EDGES,
  capabilityGraph,
  cyclesOf,
  edgesWithout,
  formatGraph,
  transitiveImports,
  type CapabilityGraph,
} from '../../scripts/capability-graph.js';

// The pinned back-edges (scripts/capability-graph.ts PINNED_BACK_EDGES) say why each is there.
const CAPABILITIES = [
  'actions',
  'audit',
  'dashboard',
  'discovery',
  'drift',
  'identity',
  'killswitch',
  'observability',
  'platform',
  'policy',
  'streaming',
];

const isPinned = (g: CapabilityGraph, from: string, to: string): boolean =>
  PINNED_BACK_EDGES.some((p) => p.from === from && p.to === g.nodeOf(to));

describe('capability boundaries', () => {
  const g = capabilityGraph();
  const graph = `\ncapability graph (from → other/entry):\n${formatGraph(g)}\n`;

  it('walks every source file under lambdas/, layers/, sdk/ and cli/ (so it cannot pass on an empty tree)', () => {
    expect(g.files.length).toBeGreaterThan(150);
    for (const cap of CAPABILITIES)
      expect(g.files.filter((f) => f.startsWith(`lambdas/${cap}/`)).length, cap).toBeGreaterThan(0);
    expect(g.files.some((f) => f.startsWith('layers/pdp-extension/'))).toBe(true);
    // Capabilities do use each other: through facades, many times.
    expect(g.crossing.length, graph).toBeGreaterThan(30);
    expect(new Set(g.crossing.map((i) => g.nodeOf(i.from))).size, graph).toBeGreaterThanOrEqual(8);
  });

  it('reaches another capability only through its lambdas/<cap>/index.ts', () => {
    const bad = g.violations.map((v) => `${v.from} imports ${v.specifier}`);
    expect(bad, `${bad.join('\n')}\n${graph}`).toEqual([]);
    // every facade that is imported exists and is the only entry used
    for (const i of g.crossing) expect(i.to, i.from).toMatch(/^lambdas\/[a-z]+\/(index|topology)\.ts$/);
  });

  it('keeps lambdas/shared free of capability imports', () => {
    const fromShared = g.imports.filter(
      (i) => g.nodeOf(i.from) === 'shared' && g.nodeOf(i.to) !== 'shared' && g.nodeOf(i.to) !== null,
    );
    expect(fromShared.map((i) => `${i.from} imports ${i.specifier}`)).toEqual([]);
  });

  it('has an acyclic capability graph apart from the pinned composition-root imports', () => {
    const cycles = cyclesOf(edgesWithout(g, (from, to) => isPinned(g, from, to)));
    expect(cycles, `cycles among: ${cycles.map((c) => c.join(', ')).join(' | ')}\n${graph}`).toEqual([]);
    // discovery↔identity and platform↔identity are gone for good: no import either way closes them.
    expect(g.edges.get('identity')?.has('discovery') ?? false, graph).toBe(false);
    expect(g.edges.get('identity')?.has('platform') ?? false, graph).toBe(false);
    expect(g.edges.get('audit')?.has('platform') ?? false, graph).toBe(false);
  });

  it('pins only back-edges that still exist, and only from their one file', () => {
    for (const p of PINNED_BACK_EDGES) {
      const hits = g.crossing.filter((i) => i.from === p.from && g.nodeOf(i.to) === p.to);
      expect(hits.length, `${p.from} → ${p.to} is gone: remove it from PINNED_BACK_EDGES`).toBeGreaterThan(0);
    }
    // Nothing else in identity imports actions or audit, nothing else in observability imports actions.
    for (const [from, to] of [
      ['identity', 'actions'],
      ['identity', 'audit'],
      ['observability', 'actions'],
    ] as const) {
      const others = g.crossing.filter(
        (i) => g.nodeOf(i.from) === from && g.nodeOf(i.to) === to && !isPinned(g, i.from, i.to),
      );
      expect(
        others.map((i) => i.from),
        `${from} → ${to}`,
      ).toEqual([]);
    }
  });
});

describe('capabilityGraph (self-check on a synthetic tree)', () => {
  const root = mkdtempSync(join(tmpdir(), 'arx-boundaries-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  it('reports a deep import with its file and specifier, and the cycle it closes', () => {
    put('lambdas/alpha/index.ts', "export { a } from './core/a.js';\n");
    put(
      'lambdas/alpha/core/a.ts',
      "import type { B } from '../../beta/index.js';\nexport const a = 1; export type A = B;\n",
    );
    put('lambdas/beta/index.ts', 'export type B = number;\n');
    put('lambdas/beta/handlers/h.ts', "import { a } from '../../alpha/core/a.js';\nexport const h = a;\n");
    put('lambdas/shared/s.ts', 'export const s = 1;\n');
    const t = capabilityGraph(root);
    expect(t.violations.map((v) => [v.from, v.specifier])).toEqual([
      ['lambdas/beta/handlers/h.ts', '../../alpha/core/a.js'],
    ]);
    expect(cyclesOf(t.edges)).toEqual([['alpha', 'beta']]);
    expect(formatGraph(t)).toBe('alpha→beta/index\nbeta→alpha/core');
  });
});

describe('kill-switch drain step', () => {
  it('loads no cedar-wasm, no SES client and no PDP: only the action store, the audit sink and the bus', () => {
    const { files, packages } = transitiveImports('lambdas/killswitch/handlers/step-drain.ts');
    expect(files.has('lambdas/actions/adapters/drainer.ts')).toBe(true);
    expect(files.has('lambdas/actions/adapters/dynamo-action-store.ts')).toBe(true);
    expect(packages.has('@aws-sdk/lib-dynamodb')).toBe(true);
    expect(packages.has('@aws-sdk/client-eventbridge')).toBe(true);
    expect([...packages].filter((p) => p === '@cedar-policy/cedar-wasm' || p === '@aws-sdk/client-sesv2')).toEqual([]);
    expect(
      [...files].filter((f) => f.startsWith('lambdas/policy/') || f === 'lambdas/actions/adapters/deps.ts'),
    ).toEqual([]);
  });

  it('is told apart from a function that does load the PDP (the walker sees cedar-wasm where it is)', () => {
    const { packages } = transitiveImports('lambdas/actions/handlers/api.ts');
    expect(packages.has('@cedar-policy/cedar-wasm')).toBe(true);
    expect(packages.has('@aws-sdk/client-sesv2')).toBe(true);
  });
});
