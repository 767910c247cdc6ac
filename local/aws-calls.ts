// biome-ignore-all lint/suspicious/noExplicitAny: patches the SDK client prototype, which has no public type for send
/**
 * Counts the AWS calls this process makes, per service and operation (issue 19 §3): a middleware
 * added to every SDK client's middleware stack on its first send. Used by the actions bench to
 * report the calls one governed action costs end to end; off unless `countAwsCalls()` is called.
 */
import { Client } from '@smithy/core/client';

export type CallCounts = Record<string, number>;

const counts = new Map<string, number>();
const instrumented = new WeakSet<object>();
let installed = false;

export function countAwsCalls(): { snapshot(): CallCounts; reset(): void; total(): number } {
  if (!installed) {
    installed = true;
    const proto = Client.prototype as any;
    const send = proto.send as (...a: unknown[]) => unknown;
    proto.send = function (this: any, ...args: unknown[]) {
      if (!instrumented.has(this)) {
        instrumented.add(this);
        this.middlewareStack.add(
          (next: (a: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) =>
            (a: unknown) => {
              // The document client hands its commands to an inner DynamoDB client: count that one only.
              if (context.clientName && !/DocumentClient/.test(context.clientName)) {
                const k = `${context.clientName.replace(/Client$/, '')}.${(context.commandName ?? '?').replace(/Command$/, '')}`;
                counts.set(k, (counts.get(k) ?? 0) + 1);
              }
              return next(a);
            },
          { step: 'initialize', name: 'arxAwsCallCounter', override: true },
        );
      }
      return send.apply(this, args);
    };
  }
  return {
    snapshot: () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
    reset: () => counts.clear(),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
  };
}
