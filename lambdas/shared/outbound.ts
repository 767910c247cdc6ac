import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Outbound HTTP for connectors, approval notifiers and the OTLP export (F22): never to a private, loopback,
 * link-local or otherwise non-public address, checked on the address the socket actually connects
 * to (after DNS resolution, so a name that resolves or re-resolves to 127.0.0.1 is refused too),
 * and never following a redirect. Local development and tests (an AWS emulator, `AWS_ENDPOINT_URL`)
 * talk to loopback servers, so there the address check is off (`allowPrivate`) or, narrower, only
 * loopback is let through (`allowLoopback`); redirects are refused everywhere.
 */

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback (Lambda Runtime API, extensions)
  ['169.254.0.0', 16], // link-local (instance metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64 (embeds IPv4)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for an address ARX must not call in production (private, loopback, link-local, reserved). */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const lower = address.toLowerCase();
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms: judge the embedded IPv4 address
    const mapped = lower.startsWith('::ffff:') ? lower.slice(7) : null;
    if (mapped && isIP(mapped) === 4) return blocked.check(mapped, 'ipv4');
    if (lower.startsWith('::ffff:')) return true;
    return blocked.check(address, 'ipv6');
  }
  return true; // not an address at all: refuse
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True for a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  const lower = address.toLowerCase();
  if (family === 6 && lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4)
    return loopback.check(lower.slice(7), 'ipv4');
  return family === 4 ? loopback.check(address, 'ipv4') : family === 6 ? loopback.check(address, 'ipv6') : false;
}

/** Whether the guard refuses `address` under `opts`. */
export function refusesAddress(address: string, opts: Pick<GuardedFetchOptions, 'allowPrivate' | 'allowLoopback'>) {
  if (opts.allowPrivate) return false;
  if (opts.allowLoopback && isLoopbackAddress(address)) return false;
  return isNonPublicAddress(address);
}

/** Cloud metadata names (they resolve to link-local addresses where they resolve at all). */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/**
 * Checks a URL an admin configures before it is stored: http(s) only; a literal address, a
 * `localhost` name or a metadata name must be allowed by `opts`; a name that resolves now must
 * resolve to allowed addresses only. Returns the reason for refusing, or null. A name that does not
 * resolve now is accepted: the send-time check (guardedFetch) judges what it resolves to then.
 */
export async function outboundUrlProblem(
  raw: string,
  opts: Pick<GuardedFetchOptions, 'allowPrivate' | 'allowLoopback' | 'lookup'> & { timeoutMs?: number },
): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${url.protocol} is not http(s)`;
  if (url.username || url.password) return 'credentials in the URL are not accepted (use headers)';
  const host = (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname)
    .toLowerCase()
    .replace(/\.$/, '');
  if (isIP(host)) return refusesAddress(host, opts) ? `${host} is not a public address` : null;
  if (opts.allowPrivate) return null;
  if (METADATA_HOSTS.has(host)) return `${host} is a cloud metadata service`;
  if (host === 'localhost' || host.endsWith('.localhost'))
    return opts.allowLoopback ? null : `${host} is a loopback name`;
  const base = opts.lookup ?? dnsLookup;
  const addresses = await new Promise<LookupAddress[] | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), opts.timeoutMs ?? 2000);
    base(host, { all: true }, (err, list) => {
      clearTimeout(timer);
      resolve(err ? null : (list as unknown as LookupAddress[]));
    });
  });
  const bad = (addresses ?? []).find((a) => refusesAddress(a.address, opts));
  return bad ? `${host} resolves to ${bad.address}, which is not a public address` : null;
}

export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
}

export interface GuardedFetchOptions {
  /** Allow private/loopback targets (local development and tests only). */
  readonly allowPrivate: boolean;
  /** Allow loopback targets only, everything else still checked (local development and tests only). */
  readonly allowLoopback?: boolean;
  /** @default node:dns lookup */
  readonly lookup?: typeof dnsLookup;
  /** Largest response body read, in bytes. @default 1 MiB */
  readonly maxResponseBytes?: number;
}

/** Whether this process runs against an emulator (`npm run dev`, tests), where loopback targets are allowed. */
export const runningLocally = (): boolean => Boolean(process.env.AWS_ENDPOINT_URL);

function guardedLookup(opts: GuardedFetchOptions): LookupFunction {
  const base = opts.lookup ?? dnsLookup;
  return ((
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = (
        Array.isArray(addresses) ? addresses : [{ address: String(addresses), family: isIP(String(addresses)) }]
      ) as LookupAddress[];
      const bad = list.find((a) => refusesAddress(a.address, opts));
      if (bad || list.length === 0) {
        return callback(
          Object.assign(new OutboundRefusedError(`refused: ${hostname} resolves to a non-public address`), {
            code: 'EARXBLOCKED',
          }),
          '',
          0,
        );
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as LookupFunction;
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const h = new Headers(init?.headers);
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/**
 * A `fetch` for connectors, notifiers and the OTLP export with the F22 rules. Supports what ARX
 * sends: a string or URL, method, headers, a string or byte body, `signal`. Any 3xx answer is an error (as `redirect: "error"`).
 *
 * @example
 * const f = guardedFetch({ allowPrivate: runningLocally() });
 * await f('https://hooks.example.com/arx', { method: 'POST', body: '{}' });
 */
export function guardedFetch(opts: GuardedFetchOptions): typeof fetch {
  const lookup = guardedLookup(opts);
  const maxBytes = opts.maxResponseBytes ?? 1024 * 1024;
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (input instanceof Request) throw new TypeError('guardedFetch takes a URL, not a Request');
    const url = new URL(String(input));
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new OutboundRefusedError(`refused: ${url.protocol} is not http(s)`);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    // A literal address never goes through DNS: judge it here.
    if (isIP(host) && refusesAddress(host, opts))
      throw new OutboundRefusedError(`refused: ${host} is not a public address`);
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))
      throw new TypeError('guardedFetch sends string or byte bodies only');
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(
        url,
        {
          method: init?.method ?? 'GET',
          headers: headersOf(init),
          lookup,
          ...(init?.signal ? { signal: init.signal } : {}),
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) {
            res.resume();
            reject(
              new OutboundRefusedError(
                `refused: ${url.origin} answered a redirect (${status}); redirects are not followed`,
              ),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= maxBytes) chunks.push(c);
            else res.destroy();
          });
          res.on('close', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
            const noBody = status === 204 || status === 304 || (init?.method ?? 'GET').toUpperCase() === 'HEAD';
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', (e) =>
        reject(e instanceof OutboundRefusedError ? e : Object.assign(new TypeError('fetch failed'), { cause: e })),
      );
      if (typeof body === 'string' || body instanceof Uint8Array) req.write(body);
      req.end();
    });
  };
  return f as typeof fetch;
}
