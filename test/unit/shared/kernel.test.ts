import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, newId, newSecret, sha256Hex } from '../../../lambdas/shared/ids.js';
import { traceFrom } from '../../../lambdas/shared/trace.js';
import { ManualClock } from '../../support/clock.js';
import { buildOpenApi } from '../../../lambdas/platform/core/openapi.js';
import { TOPOLOGY, checkTopology } from '../../../lambdas/topology.js';

describe('canonicalJson', () => {
  it('orders keys so equal objects hash equally', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(o));
      }),
    );
  });
  it('distinguishes different values', () => {
    expect(canonicalJson({ a: 1, b: [1, 2] })).toBe('{"a":1,"b":[1,2]}');
    expect(canonicalJson({ user_id: 'u1' })).not.toBe(canonicalJson({ user_id: 'u2' }));
  });
});

describe('ids', () => {
  it('makes time-ordered ULID ids and high-entropy secrets', () => {
    const a = newId('agt', new Date(1000));
    const b = newId('agt', new Date(2000));
    expect(a < b).toBe(true);
    expect(newSecret('arxb')).toMatch(/^arxb_[A-Za-z0-9_-]{43}$/);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('traceFrom', () => {
  it('continues a valid traceparent and starts a new trace otherwise', () => {
    const t = traceFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(t.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(t.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(traceFrom('garbage').traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceFrom(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`).traceId).not.toBe('0'.repeat(32));
  });
});

describe('ManualClock', () => {
  it('moves only when told', () => {
    const c = new ManualClock(0);
    c.advance(1500);
    expect(c.now().getTime()).toBe(1500);
  });
});

type Schema = { additionalProperties?: boolean; oneOf?: Schema[]; anyOf?: Schema[] };
/** Strict at the top, or in every branch of a union. */
const refusesUnknownFields = (s: Schema): boolean =>
  s.additionalProperties === false ||
  [s.oneOf, s.anyOf].some((b) => Array.isArray(b) && b.length > 0 && b.every(refusesUnknownFields));

describe('topology and OpenAPI', () => {
  it('is consistent: unique routes, known functions, roles on every bearer route', () => {
    expect(() => checkTopology()).not.toThrow();
  });
  it('documents every route with its roles, and request schemas that refuse unknown fields', () => {
    const doc = buildOpenApi(TOPOLOGY.routes, { version: 't' }) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { 'x-arx-roles': string[]; requestBody?: { content: Record<string, { schema: Schema }> } }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of TOPOLOGY.routes) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      expect(op['x-arx-roles']).toEqual(r.roles);
      if (r.contentType) expect(Object.keys(op.requestBody!.content)).toEqual([r.contentType]);
      if (r.body && (r.bodyType ?? 'json') === 'json') {
        expect(refusesUnknownFields(Object.values(op.requestBody!.content)[0]!.schema)).toBe(true);
      }
    }
  });
});
