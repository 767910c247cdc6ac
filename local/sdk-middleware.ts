// biome-ignore-all lint/suspicious/noExplicitAny: patches the SDK client prototype, which has no public type for send
/**
 * Adds a middleware to every AWS SDK client of this process, on each client's first send after
 * the middleware is registered (local runtime, bench and tests only: the call counter of
 * local/aws-calls.ts and the fault layer of local/faults.ts). Patches `send` on the smithy
 * `Client` base class once.
 */
import { Client } from '@smithy/core/client';

export interface SdkContext {
  readonly clientName?: string;
  readonly commandName?: string;
}
export type SdkMiddleware = (
  next: (a: unknown) => Promise<unknown>,
  context: SdkContext,
) => (a: { input?: unknown }) => Promise<unknown>;

const registered = new Map<string, { mw: SdkMiddleware; step: string }>();
const added = new WeakMap<object, Set<string>>();
let patched = false;

export function onEveryAwsClient(name: string, step: 'initialize' | 'finalizeRequest', mw: SdkMiddleware): void {
  registered.set(name, { mw, step });
  if (patched) return;
  patched = true;
  const proto = Client.prototype as any;
  const send = proto.send as (...a: unknown[]) => unknown;
  proto.send = function (this: any, ...args: unknown[]) {
    const have = added.get(this) ?? new Set<string>();
    added.set(this, have);
    for (const [n, r] of registered)
      if (!have.has(n)) {
        have.add(n);
        this.middlewareStack.add(r.mw, { step: r.step, name: n, override: true });
      }
    return send.apply(this, args);
  };
}

/** The service and operation of a call (`DynamoDB`, `GetItem`); null for the document client's outer call. */
export function callOf(context: SdkContext): { service: string; op: string } | null {
  // The document client hands its commands to an inner DynamoDB client: only that one counts.
  if (!context.clientName || /DocumentClient/.test(context.clientName)) return null;
  return {
    service: context.clientName.replace(/Client$/, ''),
    op: (context.commandName ?? '?').replace(/Command$/, ''),
  };
}
