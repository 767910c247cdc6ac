/** `arx-verify`: the standalone offline chain verifier (same as `arx verify`). */
import { run } from './commands/verify.js';
import { isMain, runMain } from './main.js';

if (isMain(import.meta.url)) runMain('arx-verify', run);
export { run };
