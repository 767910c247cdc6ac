// biome-ignore-all lint/suspicious/noExplicitAny: EventBridge patterns and events are untyped JSON
/**
 * EventBridge event patterns matched in the local runtime, so one emulated queue per bus can carry
 * every rule's events and each message is handed to the functions whose rules match it (issue 19
 * §3: one receive and one delete per event instead of one per rule). Only the pattern subset the
 * stack's rules use is evaluated here: fields whose values are lists of literals (a field matches
 * when its value, or one element of it when it is an array, is in the list) and nested objects.
 * A pattern with anything else (prefix, anything-but, numeric, exists …) is reported as not simple
 * and keeps a queue of its own, filtered by the emulator as before.
 */

type Scalar = string | number | boolean | null;
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether every leaf of `pattern` is a non-empty list of literals (what `matchesPattern` evaluates). */
export function isSimplePattern(pattern: unknown): boolean {
  if (!isPlainObject(pattern) || Object.keys(pattern).length === 0) return false;
  return Object.values(pattern).every((v) =>
    Array.isArray(v) ? v.length > 0 && v.every(isScalar) : isPlainObject(v) && isSimplePattern(v),
  );
}

/** EventBridge's matching for a simple pattern: every field of the pattern must match the event. */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  if (!isPlainObject(event)) return false;
  for (const [field, want] of Object.entries(pattern)) {
    const have = (event as any)[field];
    if (Array.isArray(want)) {
      const values = Array.isArray(have) ? have : [have];
      if (!values.some((v) => isScalar(v) && v !== undefined && want.includes(v))) return false;
    } else if (!matchesPattern(want as Record<string, unknown>, have)) return false;
  }
  return true;
}

/**
 * The pattern the emulated bus filters a shared queue's rule with: the union of the member rules'
 * `source` lists (every simple pattern of the stack names its sources). Null when a member has none.
 */
export function unionBySource(patterns: readonly Record<string, unknown>[]): Record<string, unknown> | null {
  const sources = new Set<Scalar>();
  for (const p of patterns) {
    if (!Array.isArray(p.source)) return null;
    for (const s of p.source as Scalar[]) sources.add(s);
  }
  return { source: [...sources] };
}
