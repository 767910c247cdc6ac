import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../../lambdas/shared/settings.js';
import { BEGIN, END, README, settingsTable, withSettingsTable } from '../../../scripts/settings-readme.js';

describe('README configuration table', () => {
  it('equals the table generated from the settings registry (npm run settings:readme)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toContain(BEGIN);
    expect(withSettingsTable(readme)).toBe(readme);
  });

  it('has one row per registered variable, required ones marked', () => {
    const rows = settingsTable().split('\n').slice(2);
    expect(rows.map((r) => /^\| `([A-Z0-9_]+)`/.exec(r)?.[1])).toEqual(Object.keys(SETTINGS));
    expect(rows.find((r) => r.startsWith('| `ARX_CONTROL_TABLE`'))).toContain('**required**');
    expect(rows.find((r) => r.startsWith('| `ARX_PDP_REVOCATION_WINDOW_MS`'))).toContain('`500`');
  });

  it('refuses a README without the generated block', () => {
    expect(() => withSettingsTable('# no table\n')).toThrow(END);
  });
});
