// biome-ignore-all lint/suspicious/noExplicitAny: walks zod internals, which have no public types
/**
 * A small zod 4 → fast-check bridge for the schema kinds the topology uses (objects, strings with
 * length / regex / url / email / datetime checks, numbers, enums, literals, arrays, records,
 * unions, optional / default / nullable, unknown), plus the malformed variants the route property
 * test sends: wrong types, huge strings, hostile unicode, prototype keys, missing and extra fields.
 *
 * It reads zod's own introspection (`schema._zod.def`) so a schema change changes what is
 * generated; a kind it does not know throws (a new kind needs a line here, not a silent `{}`).
 */
import fc from 'fast-check';
import type { ZodType } from 'zod';

type Def = { type: string; [k: string]: any };

const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;
const checksOf = (d: Def): Def[] => ((d.checks ?? []) as { _zod: { def: Def } }[]).map((c) => c._zod.def);

/** `json`: values as they appear in a JSON body; `query`: every leaf a string, as API Gateway gives them. */
export type Mode = 'json' | 'query';

/** Hostile unicode pieces: lone surrogates, RTL override, NUL, BOM, combining marks, astral chars. */
export const NASTY_UNICODE = [
  '\uD800',
  '\uDFFF',
  '\u202E',
  '\u0000',
  '\uFEFF',
  'e\u0301\u0301\u0301',
  '\u{1F4A9}',
  '\u0085',
  '\u2028',
  'İ',
  'ß',
  '\\',
  '"',
  "'",
  '%00',
  '../',
];

/** Keys that mean something to Object.prototype or to naive merge code. */
export const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineGetter__',
];

export const nastyString = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.array(fc.constantFrom(...NASTY_UNICODE), { minLength: 1, maxLength: 6 }).map((a) => a.join('')),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(...PROTO_KEYS),
  );

/** A string of `bytes` UTF-8 bytes or so, made of one repeated unit (ascii, or multi-byte). */
export const hugeString = (bytes: number): fc.Arbitrary<string> =>
  fc.constantFrom('a', 'é', '\u{1F4A9}', '\u202E', '<').map((u) => u.repeat(Math.ceil(bytes / Buffer.byteLength(u))));

function stringArb(d: Def): fc.Arbitrary<string> {
  let min = 0;
  let max = 40;
  let pattern: RegExp | undefined;
  let format: string | undefined = d.format;
  for (const c of checksOf(d)) {
    if (c.check === 'min_length') min = c.minimum;
    else if (c.check === 'max_length') max = Math.min(c.maximum, Math.max(min, 40));
    else if (c.check === 'length_equals') min = max = c.length;
    else if (c.check === 'string_format' && c.format === 'regex') pattern = c.pattern;
    else if (c.check === 'string_format') format = c.format;
  }
  if (format === 'datetime') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
      .map((x) => x.toISOString());
  }
  if (format === 'date') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .map((x) => x.toISOString().slice(0, 10));
  }
  if (format === 'uuid' || format === 'guid') return fc.uuid();
  // Loopback with a closed port: a URL the handler may store or call fails fast and offline.
  if (format === 'url') return fc.webPath().map((p) => `https://127.0.0.1:9${p.startsWith('/') ? p : `/${p}`}`);
  if (format === 'email')
    return fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/), fc.constantFrom('acme.com', 'example.org'))
      .map(([l, h]) => `${l}@${h}`);
  if (format) throw new Error(`zod-arbitrary: string format "${format}" is not supported; add it`);
  if (pattern) {
    // fast-check cannot generate from lookaheads: generate from the pattern without them, then
    // keep only strings the full pattern accepts.
    const gen = /\(\?[!=]/.test(pattern.source)
      ? new RegExp(pattern.source.replace(/\(\?[!=][^()]*\)/g, ''), pattern.flags.replace(/[gy]/g, ''))
      : pattern;
    const full = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return fc
      .stringMatching(gen)
      .filter((s) => full.test(s) && s.length >= min && s.length <= Math.max(max, min, 4096));
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, max) });
}

function numberArb(d: Def): fc.Arbitrary<number> {
  let min = -1e6;
  let max = 1e6;
  let int = false;
  for (const c of checksOf(d)) {
    if (c.check === 'number_format') int = c.format === 'safeint' || c.format === 'int32' || c.format === 'uint32';
    else if (c.check === 'greater_than') min = c.inclusive ? c.value : c.value + (int ? 1 : 1e-9);
    else if (c.check === 'less_than') max = c.inclusive ? c.value : c.value - (int ? 1 : 1e-9);
  }
  return int
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map(storable);
}

/**
 * Valid values are also valid at the API edge, which refuses numbers DynamoDB cannot store
 * (magnitude below 1e-130 or above 9.99e125): tiny doubles become 0. The malformed variants keep
 * the extremes (wrongTypeValue).
 */
const storable = (x: number): number => (Math.abs(x) < 1e-100 ? 0 : x);

/** JSON values (for z.unknown) with storable numbers only. */
const jsonValue = (): fc.Arbitrary<unknown> =>
  fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).map(storable),
      fc.string({ maxLength: 12 }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 3 }),
    ),
  })).value;

const leaf = (mode: Mode, a: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  mode === 'query' ? a.map((v) => String(v)) : a;

/** Values that satisfy `schema` (checked with safeParse, so a generator slip shows as a filter, never as a false finding). */
export function validArbitrary(schema: ZodType, mode: Mode = 'json'): fc.Arbitrary<unknown> {
  return build(schema, mode).filter((v) => schema.safeParse(v).success);
}

function build(schema: unknown, mode: Mode): fc.Arbitrary<unknown> {
  const d = defOf(schema);
  switch (d.type) {
    case 'object': {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(d.shape as Record<string, unknown>)) {
        model[k] = build(v, mode);
        const t = defOf(v).type;
        if (t !== 'optional' && t !== 'default') required.push(k);
      }
      return fc.record(model, { requiredKeys: required });
    }
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional':
      return build(d.innerType, mode);
    case 'nullable':
      return fc.option(build(d.innerType, mode), { nil: null, freq: 4 });
    case 'pipe':
      return build(d.in, mode);
    case 'string':
      return stringArb(d);
    case 'number':
      return leaf(mode, numberArb(d));
    case 'boolean':
      return leaf(mode, fc.boolean());
    case 'enum':
      return fc.constantFrom(...Object.values(d.entries as Record<string, string>));
    case 'literal':
      return leaf(mode, fc.constantFrom(...(d.values as unknown[])));
    case 'array':
      return fc.array(build(d.element, mode), { minLength: lengths(d).min, maxLength: Math.min(lengths(d).max, 4) });
    case 'record':
      return fc.dictionary(build(d.keyType, mode) as fc.Arbitrary<string>, build(d.valueType, mode), { maxKeys: 4 });
    case 'union':
      return fc.oneof(...(d.options as unknown[]).map((o) => build(o, mode)));
    case 'unknown':
    case 'any':
      return jsonValue();
    default:
      throw new Error(`zod-arbitrary: schema kind "${d.type}" is not supported; add it`);
  }
}

function lengths(d: Def): { min: number; max: number } {
  let min = 0;
  let max = 4;
  for (const c of checksOf(d)) {
    if (c.check === 'min_length') min = c.minimum;
    if (c.check === 'max_length') max = c.maximum;
  }
  return { min, max: Math.max(min, max) };
}

/** The object schema under optional/default wrappers and unions (for field-level mutations), or null. */
export function objectShapes(schema: unknown): { shape: Record<string, unknown>; strict: boolean }[] {
  const d = defOf(schema);
  if (d.type === 'object')
    return [{ shape: d.shape, strict: d.catchall !== undefined && defOf(d.catchall).type === 'never' }];
  if (d.type === 'union') return (d.options as unknown[]).flatMap(objectShapes);
  if (d.innerType) return objectShapes(d.innerType);
  return [];
}

/** Any value of a type other than the usual: numbers, booleans, null, arrays, objects, nasty strings. */
export const wrongTypeValue = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant([]),
    fc.constant({}),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
    nastyString(),
    fc.constant(Number.MAX_SAFE_INTEGER + 2),
    fc.constant(-0),
    fc.constant('1e309'),
    fc.constantFrom(1e-200, 1e200, 5e-324, Number.MAX_VALUE),
  );

/** One mutation of a valid object, kept as a description so a counterexample says what it was. */
export type Mutation =
  | { kind: 'wrong-type'; key: string; value: unknown }
  | { kind: 'huge-string'; key: string; bytes: number; value: string }
  | { kind: 'unicode'; key: string; value: string }
  | { kind: 'missing'; key: string }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'proto-key'; key: string; value: unknown; nested: boolean }
  | { kind: 'wrong-root'; value: unknown };

const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

/**
 * A valid value of `schema` and one mutation of it. `huge` sizes (bytes) include one above the
 * 256 KB body limit and one below it, so both the size guard and the handler see huge strings.
 */
export function mutatedArbitrary(
  schema: ZodType,
  mode: Mode = 'json',
  huge: readonly number[] = [300 * 1024, 200 * 1024],
): fc.Arbitrary<{ value: unknown; mutation: Mutation }> {
  const shapes = objectShapes(schema);
  const keys = [...new Set(shapes.flatMap((s) => Object.keys(s.shape)))];
  const fieldKey = keys.length ? fc.oneof(pick(keys), fc.string({ maxLength: 8 })) : fc.string({ maxLength: 8 });
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({
      kind: fc.constant('wrong-type' as const),
      key: fieldKey,
      value: mode === 'query' ? nastyString() : wrongTypeValue(),
    }),
    fc
      .record({ kind: fc.constant('huge-string' as const), key: fieldKey, bytes: pick(huge) })
      .chain((m) => hugeString(m.bytes).map((value) => ({ ...m, value }))),
    fc.record({ kind: fc.constant('unicode' as const), key: fieldKey, value: nastyString() }),
    fc.record({ kind: fc.constant('missing' as const), key: keys.length ? pick(keys) : fc.constant('x') }),
    fc.record({
      kind: fc.constant('extra' as const),
      key: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), pick(PROTO_KEYS)),
      value: mode === 'query' ? nastyString() : wrongTypeValue(),
    }),
    fc.record({
      kind: fc.constant('proto-key' as const),
      key: pick(['__proto__', 'constructor', 'prototype']),
      value:
        mode === 'query'
          ? fc.constant('polluted')
          : fc.constantFrom({ polluted: 'yes' }, { prototype: { polluted: 'yes' } }, 'polluted', 1),
      nested: mode === 'query' ? fc.constant(false) : fc.boolean(),
    }),
    ...(mode === 'json' ? [fc.record({ kind: fc.constant('wrong-root' as const), value: wrongTypeValue() })] : []),
  );
  return fc
    .tuple(validArbitrary(schema, mode), mutation)
    .map(([v, m]) => ({ value: applyMutation(v, m), mutation: m }));
}

/** Applies a mutation; prototype keys become own properties (as JSON.parse makes them). */
export function applyMutation(valid: unknown, m: Mutation): unknown {
  if (m.kind === 'wrong-root') return m.value;
  const base =
    valid && typeof valid === 'object' && !Array.isArray(valid) ? { ...(valid as Record<string, unknown>) } : {};
  const put = (o: Record<string, unknown>, k: string, v: unknown) =>
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  switch (m.kind) {
    case 'missing':
      delete base[m.key];
      return base;
    case 'proto-key': {
      if (m.nested) {
        // into the first object-valued field, or a new one
        const k = Object.keys(base).find((x) => base[x] && typeof base[x] === 'object' && !Array.isArray(base[x]));
        const inner = k ? { ...(base[k] as Record<string, unknown>) } : {};
        put(inner, m.key, m.value);
        put(base, k ?? 'nested', inner);
        return base;
      }
      put(base, m.key, m.value);
      return base;
    }
    default:
      put(base, m.key, m.value);
      return base;
  }
}
