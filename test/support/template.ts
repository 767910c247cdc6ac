import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import type { provisionFromTemplate } from '../../local/provision.js';

export type Template = Parameters<typeof provisionFromTemplate>[0];

let cached: Template | undefined;

/** The stack's template, synthesised once per test run by the global setup. */
export function testTemplate(): Template {
  cached ??= JSON.parse(readFileSync(inject('templatePath'), 'utf8')) as Template;
  return cached;
}
