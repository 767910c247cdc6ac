import { describe, expect, it } from 'vitest';
import { ArxClient } from '../../../sdk/index.js';

/** An unsigned JWT whose only claim that matters here is exp (the client reads it for expiry). */
const jwt = (expS: number) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp: expS, sub: 'spiffe://arx/t/agt_1' })).toString('base64url')}.`;

describe('ArxClient.token: one exchange for concurrent callers', () => {
  it('answers every caller that asks while the bootstrap exchange is in flight with its SVID', async () => {
    let exchanges = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const svid = jwt(Math.floor(Date.now() / 1000) + 3600);
    const client = new ArxClient({
      apiUrl: 'http://arx.invalid',
      bootstrapToken: 'arxb_once',
      fetch: (async () => {
        exchanges++;
        await gate;
        return new Response(JSON.stringify({ access_token: svid, expires_in: 3600, refresh_token: 'arxr_1' }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      }) as typeof fetch,
    });
    // The gateway's first decision, its pin read and its handshake report all ask at once.
    const asks = [client.token(), client.token(), client.token()];
    release();
    expect(await Promise.all(asks)).toEqual([svid, svid, svid]);
    expect(exchanges).toBe(1);
    expect(await client.token()).toBe(svid);
    expect(exchanges).toBe(1);
  });
});
