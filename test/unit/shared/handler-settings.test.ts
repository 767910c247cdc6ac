import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  HANDLER_SETTINGS_FILE,
  declaredSettings,
  generateHandlerSettings,
} from '../../../scripts/gen-handler-settings.js';
import { HANDLER_SETTINGS } from '../../../lib/handler-settings.gen.js';
import { TOPOLOGY } from '../../../lambdas/topology.js';

describe('lib/handler-settings.gen.ts', () => {
  it("is a fresh generation from the handlers' exported settings (run npm run gen:settings)", async () => {
    expect(readFileSync(HANDLER_SETTINGS_FILE, 'utf8') === (await generateHandlerSettings())).toBe(true);
  }, 60_000);

  it('lists every topology entry with what its handler module declares', async () => {
    const declared = await declaredSettings();
    expect(Object.keys(HANDLER_SETTINGS).sort()).toEqual([...new Set(TOPOLOGY.functions.map((f) => f.entry))].sort());
    expect(HANDLER_SETTINGS).toEqual(declared);
    expect(HANDLER_SETTINGS['lambdas/platform/handlers/authorizer.ts']).toContain('ARX_SVID_ISSUER_BASE');
  }, 60_000);
});
