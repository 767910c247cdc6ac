import { guardedFetch, outboundUrlProblem, runningLocally } from '../../shared/outbound.js';
import type { Send } from '../core/ports.js';

/**
 * Streaming's outbound rules are the shared guard's (F22), as for observability's OTLP export:
 * no private, link-local, loopback or metadata address — checked when a subscription is created
 * and again on the address each delivery connects to, after DNS resolution — and no redirects.
 * The local runtime and tests (an emulator, `AWS_ENDPOINT_URL`) deliver to loopback receivers,
 * so there loopback alone is let through.
 */
const rules = () => ({ allowPrivate: false, allowLoopback: runningLocally() });

let cached: typeof fetch | undefined;

/** Sends one delivery through the guarded fetch, with its timeout. */
export const guardedSend: Send = async (url, init) => {
  cached ??= guardedFetch({ ...rules(), maxResponseBytes: 64 * 1024 });
  const res = await cached(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    redirect: 'error',
    signal: AbortSignal.timeout(init.timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined);
  return { status: res.status };
};

/** Why `url` may not be a destination, or null (checked before anything is stored). */
export const destinationProblem = (url: string): Promise<string | null> => outboundUrlProblem(url, rules());
