/**
 * The console's client of the public API. Every call names a route of the contract
 * (`METHOD /path`, as in sdk/contract.gen.ts, generated from the routes' schemas) and gets that
 * route's success body type.
 */
import type { Problem, RouteResponses } from '../../sdk/contract.gen.js';

export type RouteKey = keyof RouteResponses;
type Success<R> = R extends { 200: infer A }
  ? A
  : R extends { 201: infer B }
    ? B
    : R extends { 202: infer C }
      ? C
      : never;
export type Ok<K extends RouteKey> = Success<RouteResponses[K]>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> & { error_description?: string; message?: string },
  ) {
    super(problem.detail ?? problem.title ?? problem.message ?? `HTTP ${status}`);
  }
  /** The validator's messages, one per line, with their paths. */
  get details(): string[] {
    return (this.problem.errors ?? []).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  }
}

export interface CallOptions {
  readonly path?: Record<string, string>;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
}

let base = '';
let bearer: () => Promise<string | null> = async () => null;
let onUnauthorized: () => Promise<boolean> = async () => false;

/**
 * `token` gives the access token to send (renewed when due); `unauthorized` is called on a 401 and
 * answers whether a renewed token is there to retry with (once), else it signs the user in again.
 */
export function configureApi(o: {
  baseUrl: string;
  token: () => Promise<string | null>;
  unauthorized: () => Promise<boolean>;
}): void {
  base = o.baseUrl.replace(/\/$/, '');
  bearer = o.token;
  onUnauthorized = o.unauthorized;
}

export async function call<K extends RouteKey>(key: K, o: CallOptions = {}): Promise<Ok<K>> {
  const space = key.indexOf(' ');
  const method = key.slice(0, space);
  let path = key.slice(space + 1);
  path = path.replace(/\{([^}]+)\}/g, (_, n: string) => {
    const v = o.path?.[n];
    if (v === undefined) throw new Error(`${key}: missing path parameter ${n}`);
    return encodeURIComponent(v);
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const url = `${base}${path}${qs.size ? `?${qs}` : ''}`;
  const send = async () => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = await bearer();
    if (token) headers.authorization = `Bearer ${token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(url, {
      method,
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
  };
  let res = await send();
  // A 401 means the token was refused, not the request: it is sent again, once, with a renewed token.
  if (res.status === 401 && (await onUnauthorized())) res = await send();
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = { title: text.slice(0, 500) };
  }
  if (!res.ok) throw new ApiError(res.status, (json ?? {}) as ApiError['problem']);
  return json as Ok<K>;
}

/** A message for an error shown to the user. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const d = e.details;
    return `${e.status} ${e.message}${d.length ? ` — ${d.join('; ')}` : ''}`;
  }
  return (e as Error)?.message ?? String(e);
}
