import { buildTimestampRequest, tokenFromResponse, TimestampError } from '../core/rfc3161.js';
import type { Timestamper } from '../core/ports.js';

/**
 * RFC 3161 over HTTP (`application/timestamp-query`), to a configurable TSA (ARX_TSA_URL).
 * Throws on any transport error or a response that does not match the request; the sealer
 * then leaves the block un-anchored and retries later.
 */
export class HttpTimestamper implements Timestamper {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 3000,
  ) {}

  async stamp(blockHashHex: string): Promise<string> {
    const { der, nonceHex } = buildTimestampRequest(blockHashHex);
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
      body: der,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new TimestampError(`TSA answered HTTP ${res.status}`);
    const body = new Uint8Array(await res.arrayBuffer());
    return tokenFromResponse(body, blockHashHex, nonceHex).toString('base64');
  }
}
