#!/usr/bin/env node
// `npx arx-verify` in the checkout: plain JS, so the bin link works without a tsx shebang; the
// TypeScript sources load through tsx's loader (a dev dependency). Installed users get the
// compiled bundle from `npm run package` instead.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../commands/verify.ts');
const { runMain } = await import('../main.ts');
runMain('arx-verify', run);
