#!/usr/bin/env -S npx tsx
/** `arx-verify`: the standalone offline chain verifier (same as `arx verify`). */
import { pathToFileURL } from 'node:url';
import { run } from './commands/verify.js';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`arx-verify: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
export { run };
