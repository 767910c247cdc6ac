/**
 * F3 / §2.2: every regex literal (and `new RegExp(<string literal>)`) under lambdas/ and layers/
 * must pass safe-regex2 (no nested quantifiers, bounded repetition count). The sources are parsed
 * with the TypeScript compiler, so regexes inside strings or comments are not mistaken for code.
 *
 * safe-regex2 measures star height only: a pattern with star height 1 whose adjacent quantified
 * classes overlap (the old e-mail pattern `^[^\s@]+@[^\s@]+\.[^\s@]+$`) still passes it. The
 * redaction patterns are therefore also timed on adversarial inputs in test/unit/audit/redaction.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const safeRegex = require('safe-regex2') as (re: string | RegExp, opts?: { limit?: number }) => boolean;

const ROOT = join(import.meta.dirname, '..', '..', '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Found {
  readonly where: string;
  readonly source: string;
  readonly flags: string;
}

/** Regex literals and `new RegExp('…')` / `RegExp('…')` calls with a literal source. */
function regexesIn(file: string, text: string): Found[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Found[] = [];
  const at = (n: ts.Node): string =>
    `${relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const visit = (n: ts.Node): void => {
    if (ts.isRegularExpressionLiteral(n)) {
      const t = n.text;
      const end = t.lastIndexOf('/');
      found.push({ where: at(n), source: t.slice(1, end), flags: t.slice(end + 1) });
    } else if (
      (ts.isNewExpression(n) || ts.isCallExpression(n)) &&
      ts.isIdentifier(n.expression) &&
      n.expression.text === 'RegExp'
    ) {
      const [src, flags] = n.arguments ?? [];
      if (src && (ts.isStringLiteral(src) || ts.isNoSubstitutionTemplateLiteral(src))) {
        found.push({ where: at(n), source: src.text, flags: flags && ts.isStringLiteral(flags) ? flags.text : '' });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('regex safety (F3, §2.2)', () => {
  const files = ['lambdas', 'layers'].flatMap((d) => sourceFiles(join(ROOT, d)));
  const all = files.flatMap((f) => regexesIn(f, readFileSync(f, 'utf8')));

  it('finds the regex literals of the tree (the walk is not vacuous)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(all.length).toBeGreaterThan(20);
    // The extractor sees both forms.
    expect(regexesIn('x.ts', 'const a = /a+b/i; const b = new RegExp("c*d"); // /not(a+)+/')).toEqual([
      { where: expect.any(String), source: 'a+b', flags: 'i' },
      { where: expect.any(String), source: 'c*d', flags: '' },
    ]);
  });

  it('F3: safe-regex2 rejects a nested-quantifier pattern (the check works)', () => {
    expect(safeRegex('^(a+)+$')).toBe(false);
    expect(safeRegex('^[a-z]+$')).toBe(true);
  });

  it('F3: every regex literal under lambdas/ and layers/ passes safe-regex2', () => {
    const unsafe = all.filter((r) => !safeRegex(r.source)).map((r) => `${r.where}  /${r.source}/${r.flags}`);
    expect(unsafe).toEqual([]);
  });
});
