import { guardedFetch, outboundUrlProblem, runningLocally } from '../../shared/outbound.js';

/**
 * The OTLP export's outbound rules (F22), the shared guard's: no private, link-local, loopback or
 * metadata address — checked when the endpoint is configured and again on the address each send
 * connects to, after DNS resolution — and no redirects. The local runtime (an emulator,
 * `AWS_ENDPOINT_URL`) exports to a loopback receiver, so there loopback alone is let through.
 */
const rules = () => ({ allowPrivate: false, allowLoopback: runningLocally() });

let cached: typeof fetch | undefined;
/** The guarded fetch the bus consumer sends spans with. */
export const exportFetch = (): typeof fetch => {
  cached ??= guardedFetch(rules());
  return cached;
};

/** Why `endpoint` may not be configured, or null (checked before anything is stored). */
export const exportEndpointProblem = (endpoint: string): Promise<string | null> =>
  outboundUrlProblem(endpoint, rules());
