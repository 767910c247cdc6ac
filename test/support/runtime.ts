import { randomBytes } from 'node:crypto';
import { freePort } from '../../local/moto.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { checkResponse } from './contract.js';
import { testTemplate } from './template.js';

/** Starts the local runtime on a free port with a unique emulator prefix (suites share one moto). */
export async function startTestRuntime(
  env: Record<string, string> = {},
  opts: { consoleTokenTtlSeconds?: number } = {},
): Promise<LocalRuntime> {
  const port = await freePort();
  return startLocalRuntime({
    template: testTemplate(),
    port,
    prefix: `t${randomBytes(4).toString('hex')}`,
    env,
    ...opts,
  });
}

/**
 * Small JSON-over-HTTP client for e2e tests. Every response is checked against the schema its
 * route declares (test/support/contract.ts): a body the contract does not describe fails the test.
 */
export function api(base: string) {
  return async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    checkResponse(method, path, { status: res.status, contentType: res.headers.get('content-type') ?? '', text });
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
}

export { eventually } from './wait.js';

/** Exchanges an agent's bootstrap token for an SVID (RFC 8693, as the SDK does): the raw answer. */
export async function exchangeBootstrap(base: string, bootstrap: string) {
  const r = await fetch(`${base}/v1/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: bootstrap,
      subject_token_type: 'urn:arx:params:oauth:token-type:bootstrap',
      audience: 'arx',
    }).toString(),
  });
  return { status: r.status, json: (await r.json().catch(() => ({}))) as any };
}
