/**
 * `npm run bench`: runs every bench/<area>.bench.ts (or only those named on the command line)
 * and writes bench/results/<area>.json — an array of {name, unit, value, baseline?, ratio?, params},
 * each baseline measured in the same run.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchResult {
  name: string;
  unit: string;
  value: number;
  baseline?: number;
  ratio?: number;
  params: Record<string, unknown>;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
mkdirSync(join(here, 'results'), { recursive: true });
let failed = 0;
for (const f of files) {
  const area = f.replace(/\.bench\.ts$/, '');
  if (only.length && !only.includes(area)) continue;
  process.stdout.write(`bench ${area} …\n`);
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { run(): Promise<BenchResult[]> };
    const results = await mod.run();
    for (const r of results) {
      if (r.baseline !== undefined && r.ratio === undefined && r.baseline !== 0)
        r.ratio = Number((r.value / r.baseline).toFixed(4));
      process.stdout.write(
        `  ${r.name}: ${r.value} ${r.unit}${r.baseline !== undefined ? ` (baseline ${r.baseline}, ratio ${r.ratio})` : ''}\n`,
      );
    }
    writeFileSync(join(here, 'results', `${area}.json`), `${JSON.stringify(results, null, 2)}\n`);
  } catch (e) {
    failed++;
    process.stderr.write(`bench ${area} failed: ${(e as Error).stack}\n`);
  }
}
process.exit(failed ? 1 : 0);
