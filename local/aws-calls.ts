// biome-ignore-all lint/suspicious/noExplicitAny: SDK command inputs are untyped here
/**
 * Counts the AWS calls this process makes, per service and operation (issue 19 §3): a middleware
 * added to every SDK client's middleware stack on its first send. Used by the actions bench to
 * report the calls one governed action costs end to end; off unless `countAwsCalls()` is called.
 */
import { callOf, onEveryAwsClient } from './sdk-middleware.js';

export type CallCounts = Record<string, number>;

const counts = new Map<string, number>();
const details = new Map<string, number>();
const millis = new Map<string, number>();
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
    onEveryAwsClient('arxAwsCallCounter', 'initialize', (next, context) => (a) => {
      const call = callOf(context);
      if (!call) return next(a);
      const k = `${call.service}.${call.op}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      const d = detailKey(k, a.input);
      if (d) details.set(d, (details.get(d) ?? 0) + 1);
      const t0 = performance.now();
      return next(a).finally(() => millis.set(k, (millis.get(k) ?? 0) + performance.now() - t0));
    });
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
