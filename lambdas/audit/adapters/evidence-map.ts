import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionalSetting } from '../../shared/settings.js';

/**
 * Source attribution (file:start-end@commit per control tag) from the generated
 * evidence_map.json: ARX_EVIDENCE_MAP names the file, else ./evidence_map.json when present.
 * Missing map → no attribution (packages still build; the mapping itself is in code).
 */
export function loadAttribution(
  path = optionalSetting('ARX_EVIDENCE_MAP') ?? join(process.cwd(), 'evidence_map.json'),
): (tag: string) => readonly string[] {
  let controls: Record<string, { source_attribution?: string[] }> = {};
  try {
    if (existsSync(path))
      controls = (JSON.parse(readFileSync(path, 'utf8')) as { controls?: typeof controls }).controls ?? {};
  } catch {
    controls = {};
  }
  return (tag) => controls[tag]?.source_attribution ?? [];
}
