import { ConnectorError, type ConnectorContext } from '../core/model.js';

/** How a vendor says "slow down": the wait in ms from its rate-limit headers, if it says. */
export type RetryAfter = (res: Response, nowMs: number) => number | undefined;

export interface VendorCall {
  readonly vendor: string;
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
  readonly retryAfter: RetryAfter;
  /** Extracts the vendor's error text from an error body. */
  readonly errorSummary: (body: unknown) => string | undefined;
  /** Longest total wait for rate limits inside one action. @default 5000 */
  readonly maxWaitMs?: number;
  /** Attempts including the first. @default 3 */
  readonly attempts?: number;
}

export interface VendorResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One call to a vendor API from a connector: JSON in and out, no redirects, rate limits honoured
 * (the vendor's reset header, bounded by `maxWaitMs` per action), 5xx retried with backoff, and
 * every failure a `ConnectorError` whose `retryable` says whether submitting again may help.
 */
export async function vendorFetch(ctx: ConnectorContext, c: VendorCall): Promise<VendorResponse> {
  const attempts = c.attempts ?? 3;
  let budget = c.maxWaitMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await ctx.fetch(c.url, {
        method: c.method,
        headers: {
          accept: 'application/json',
          ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}),
          traceparent: ctx.traceparent,
          'x-arx-correlation-id': ctx.correlationId,
          ...c.headers,
        },
        ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
        redirect: 'error',
      });
    } catch (e) {
      throw new ConnectorError(`${c.vendor} is unreachable`, 'unreachable', true, { cause: e });
    }
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (res.ok) return { status: res.status, headers: res.headers, body };
    const retryable = res.status === 429 || res.status >= 500;
    if (retryable && attempt < attempts) {
      const wait = res.status === 429 ? (c.retryAfter(res, Date.now()) ?? 1000) : 200 * 2 ** (attempt - 1);
      if (wait <= budget) {
        budget -= wait;
        await sleep(Math.max(0, wait));
        continue;
      }
    }
    const summary = c.errorSummary(body);
    throw new ConnectorError(
      `${c.vendor} answered ${res.status}${summary ? `: ${summary.slice(0, 200)}` : ''}`,
      `${c.vendor.toLowerCase()}_${res.status}`,
      retryable,
    );
  }
}

/** The `after` cursor of an RFC 8288 `Link: <…?after=X>; rel="next"` header (Okta's pagination). */
export function nextCursor(link: string | null, param = 'after'): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (m) {
      try {
        return new URL(m[1]!).searchParams.get(param) ?? undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
