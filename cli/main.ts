/** Shared entry helpers of the `arx` and `arx-verify` commands. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when `moduleUrl` is the script node was started with. Compares real paths: behind an npm
 * bin link (`node_modules/.bin/arx-verify` → the package file) argv[1] is the link, so comparing
 * URLs is false and the command silently did nothing (§2.1).
 */
export function isMain(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(argv1);
  } catch {
    return false;
  }
}

/** Runs a command's `run`, exits with its code; an unexpected error is exit 1 with one line. */
export function runMain(name: string, run: (args: string[]) => Promise<number>): void {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${name}: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
