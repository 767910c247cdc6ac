import { z } from 'zod';
import type { RouteSpec } from '../../shared/topology-types.js';

type Json = Record<string, unknown>;

const problem = {
  description: 'RFC 9457 problem details',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
    },
  },
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

/**
 * Builds the OpenAPI 3.1 document from the topology's routes and their zod schemas, so the
 * contract cannot drift from what handlers validate.
 */
export function buildOpenApi(routes: readonly RouteSpec[], info: { version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const params: Json[] = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        params.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    const op: Json = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: r.summary,
      tags: [r.fn.split('-')[0]],
      'x-arx-roles': r.roles,
      ...(params.length ? { parameters: params } : {}),
      ...(r.auth === 'bearer' ? { security: [{ bearer: [] }] } : { security: [] }),
      responses: {
        [String(r.response?.status ?? 200)]: {
          description: r.response?.description ?? 'OK',
          ...(r.response?.schema ? { content: { 'application/json': { schema: jsonSchema(r.response.schema, 'output') } } } : {}),
        },
        '400': problem,
        ...(r.auth === 'bearer' ? { '401': problem, '403': problem } : {}),
        default: problem,
      },
    };
    if (r.body) {
      const ctype = r.contentType ?? (r.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json');
      op.requestBody = { required: true, content: { [ctype]: { schema: jsonSchema(r.body) } } };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'ARX control plane API', version: info.version, description: 'Generated from the ARX topology and its request schemas.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
