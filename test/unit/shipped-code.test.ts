import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, specifiersOf } from '../../scripts/capability-graph.js';
import { TOPOLOGY } from '../../lambdas/topology.js';

/** The PDP extension's entry points: the layer's bundle, the client agents' functions import, and its build. */
const EXTENSION_ENTRIES = [
  'layers/pdp-extension/src/main.ts',
  'layers/pdp-extension/src/client.ts',
  'layers/pdp-extension/build.ts',
];

const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

/** Every repository file `entries` import, transitively (type imports included: ports are production code). */
function closure(entries: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const spec of specifiersOf(readFileSync(join(ROOT, f), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const abs = resolve(ROOT, dirname(f), spec);
      const hit = [abs.replace(/\.js$/, '.ts'), abs, join(abs, 'index.ts')].find((c) => {
        try {
          return readFileSync(c) !== undefined;
        } catch {
          return false;
        }
      });
      if (hit) queue.push(relative(ROOT, hit));
    }
  }
  return seen;
}

describe('code shipped under lambdas/ and layers/', () => {
  const shipped = [...sources('lambdas'), ...sources('layers')];
  const reached = closure([...TOPOLOGY.functions.map((f) => f.entry), ...EXTENSION_ENTRIES]);

  it('is only what a Lambda function or the PDP extension runs (test doubles live in test/support/)', () => {
    expect(shipped.length).toBeGreaterThan(150);
    expect(reached.has('lambdas/shared/clock.ts')).toBe(true);
    expect(shipped.filter((f) => !reached.has(f))).toEqual([]);
  });

  it('imports nothing from test/', () => {
    const fromTests = shipped.filter((f) =>
      specifiersOf(readFileSync(join(ROOT, f), 'utf8')).some((s) =>
        relative(ROOT, resolve(ROOT, dirname(f), s)).startsWith('test/'),
      ),
    );
    expect(fromTests).toEqual([]);
  });
});
