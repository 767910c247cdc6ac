/**
 * The demo's local Okta on its own: `npx tsx local/okta-server.ts` prints one JSON line
 * `{"url", "api_token"}` and serves until interrupted. The Python example and its tests use it.
 */
import { randomBytes } from 'node:crypto';
import { startFakeOkta } from './demo.js';

const apiToken = process.env.OKTA_API_TOKEN ?? `okta-dev-${randomBytes(6).toString('hex')}`;
const okta = await startFakeOkta(apiToken);
process.stdout.write(`${JSON.stringify({ url: okta.url, api_token: apiToken })}\n`);
const stop = () => void okta.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
