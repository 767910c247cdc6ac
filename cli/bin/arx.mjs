#!/usr/bin/env node
// `npx arx` in the checkout (see arx-verify.mjs).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../arx.ts');
const { runMain } = await import('../main.ts');
runMain('arx', (args) => main(args));
