/**
 * F22 (broker part): OAuth token and revocation requests never reach private, link-local or
 * loopback addresses after DNS resolution (except in the local runtime), and never follow redirects.
 * Real sockets on loopback; no network mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  addressClass,
  guardedPostForm,
  HttpOAuthIssuer,
  OutboundAddressError,
} from '../../../lambdas/identity/adapters/credential-issuers.js';
import { isNonPublicAddress, refusesAddress } from '../../../lambdas/shared/outbound.js';

let server: Server;
let port: number;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/token` }).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 60 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const form = (url: string, allowLoopback: boolean) =>
  guardedPostForm(url, { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b', {
    allowLoopback,
    timeoutMs: 2000,
  });

describe('guarded outbound token requests (F22)', () => {
  it('F22: classifies private, link-local, loopback and IPv4-mapped addresses', () => {
    for (const a of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      'fc00::1',
      'fe80::1',
      '::',
    ])
      expect(addressClass(a), a).toBe('private');
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(addressClass(a), a).toBe('loopback');
    expect(addressClass('::ffff:10.0.0.1')).toBe('private');
    for (const a of ['93.184.216.34', '2606:4700::1111']) expect(addressClass(a), a).toBe('public');
  });

  it('F22: judges addresses by the shared outbound policy (the one connectors and the OTLP export use)', () => {
    // ranges the broker's former copy of the list missed: documentation, discard, non-IPv4 ::ffff:
    for (const a of ['192.0.2.7', '198.51.100.7', '203.0.113.7', '100::1', '2001:db8::1', '::ffff:abcd', 'not-an-ip'])
      expect(addressClass(a), a).toBe('private');
    for (const a of [
      '10.0.0.1',
      '127.0.0.1',
      '::1',
      '169.254.169.254',
      '93.184.216.34',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
    ]) {
      expect(addressClass(a) !== 'public', a).toBe(isNonPublicAddress(a));
      expect(addressClass(a) === 'private' || addressClass(a) === 'loopback', a).toBe(
        refusesAddress(a, { allowPrivate: false }),
      );
      expect(addressClass(a) === 'private', a).toBe(refusesAddress(a, { allowPrivate: false, allowLoopback: true }));
    }
  });

  it('F22: refuses a token endpoint on a documentation address without sending anything', async () => {
    await expect(form('https://198.51.100.7/token', false)).rejects.toBeInstanceOf(OutboundAddressError);
  });

  it('F22: refuses loopback in a deployed stack — by literal address and after resolving "localhost" — and sends nothing', async () => {
    const before = hits.length;
    for (const url of [
      `http://127.0.0.1:${port}/token`,
      `http://localhost:${port}/token`,
      `http://[::ffff:127.0.0.1]:${port}/token`,
    ]) {
      await expect(form(url, false), url).rejects.toBeInstanceOf(OutboundAddressError);
    }
    await expect(
      new HttpOAuthIssuer({ allowLoopback: false }).clientCredentials({
        tokenEndpoint: `http://localhost:${port}/token`,
        clientId: 'c',
        clientSecret: 's',
        resource: 'https://r',
      }),
    ).rejects.toBeInstanceOf(OutboundAddressError);
    expect(hits.length).toBe(before);
  });

  it('F22: refuses private and link-local targets even when loopback is allowed (local runtime)', async () => {
    for (const url of [
      'https://10.0.0.1/token',
      'https://169.254.169.254/latest',
      'https://[fe80::1]/token',
      'https://192.168.0.10/token',
    ]) {
      await expect(form(url, true), url).rejects.toBeInstanceOf(OutboundAddressError);
    }
  });

  it('F22: never follows a redirect (a 3xx is an error; the redirect target is not requested)', async () => {
    const before = hits.length;
    await expect(form(`http://127.0.0.1:${port}/redirect`, true)).rejects.toThrow(/redirect \(302\) refused/);
    expect(hits.slice(before)).toEqual(['/redirect']);
    // Loopback is reachable locally, so the refusals above are the guard's, not the network's.
    expect((await form(`http://localhost:${port}/token`, true)).status).toBe(200);
  });
});
