// biome-ignore-all lint/suspicious/noExplicitAny: patches the SDK client prototype, which has no public type for send
/**
 * Counts the AWS calls this process makes, per service and operation (issue 19 §3): a middleware
 * added to every SDK client's middleware stack on its first send. Used by the actions bench to
 * report the calls one governed action costs end to end; off unless `countAwsCalls()` is called.
 */
import { Client } from '@smithy/core/client';

export type CallCounts = Record<string, number>;

const counts = new Map<string, number>();
const details = new Map<string, number>();
const millis = new Map<string, number>();
const instrumented = new WeakSet<object>();
let installed = false;

/** `DynamoDB.GetItem actions-table T#` — the operation, the table and the key's leading kind. */
function detailKey(op: string, input: any): string | undefined {
  const item = input?.TransactItems?.[0] ? Object.values(input.TransactItems[0])[0] : undefined;
  const table: string | undefined =
    input?.TableName ?? Object.keys(input?.RequestItems ?? {})[0] ?? (item as any)?.TableName;
  if (!table) {
    // S3 and SQS: the bucket's or the queue's name, without the run's prefix and hash.
    const place: string | undefined = input?.Bucket ?? input?.QueueUrl?.split('/').pop();
    return place ? `${op} ${place.replace(/^[a-z0-9]+-/, '').replace(/[a-f0-9]{8,}$/, '')}` : undefined;
  }
  const values = Object.values(
    input.Key ?? (item as any)?.Key ?? input.Item ?? (item as any)?.Item ?? input.ExpressionAttributeValues ?? {},
  ) as any[];
  const text = (v: any): string => String(typeof v === 'string' ? v : (v?.S ?? ''));
  const kind = text(values[0])
    .split('#')
    .slice(0, 3)
    .join('#')
    .replace(/[0-9A-HJKMNP-TV-Z]{26}/g, '<id>');
  // The sort key's leading word (`SPEND`, `BUDGET`, `PRICES`) when the key has one.
  const sort = /^[A-Z_]+/.exec(text(values[1]))?.[0];
  return `${op} ${table.split('-').slice(-1)[0]} ${kind}${sort ? ` ${sort}` : ''}`;
}

export function countAwsCalls(): {
  snapshot(): CallCounts;
  detail(): CallCounts;
  millis(): CallCounts;
  reset(): void;
  total(): number;
} {
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
                const d = detailKey(k, (a as { input?: unknown }).input);
                if (d) details.set(d, (details.get(d) ?? 0) + 1);
                const t0 = performance.now();
                const done = () => millis.set(k, (millis.get(k) ?? 0) + performance.now() - t0);
                return next(a).finally(done);
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
    detail: () => Object.fromEntries([...details.entries()].sort(([a], [b]) => a.localeCompare(b))),
    millis: () => Object.fromEntries([...millis.entries()].map(([k, v]) => [k, Math.round(v)])),
    reset: () => {
      counts.clear();
      details.clear();
      millis.clear();
    },
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
  };
}
