import { z } from 'zod';
import { ErrorBody } from '../../shared/responses.js';
import type { ResponseSpec, RouteSpec } from '../../shared/topology-types.js';

type Json = Record<string, unknown>;

const PROBLEM_JSON = 'application/problem+json';
const COMPONENTS = '#/components/schemas/';

/**
 * JSON Schemas of zod schemas with their named parts (`.meta({ id })`) lifted into one shared
 * `components` map, `$ref`s pointing there. Response schemas state the stable minimum of fields
 * (ARCHITECTURE.md), so `additionalProperties: false` is dropped from them; request schemas keep it.
 */
export class SchemaSet {
  readonly components: Record<string, Json> = {};

  /** The JSON Schema of `schema` (`io: 'output'` for a response), its named parts moved to `components`. */
  add(schema: z.ZodType, io: 'input' | 'output'): Json {
    const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
    const defs = (s.$defs ?? {}) as Record<string, Json>;
    delete s.$defs;
    delete s.$schema;
    for (const [id, def] of Object.entries(defs)) {
      const lifted = this.rewrite(def, io) as Json;
      const known = this.components[id];
      if (known && JSON.stringify(known) !== JSON.stringify(lifted))
        throw new Error(`two different schemas are named ${id}`);
      this.components[id] = lifted;
    }
    return this.rewrite(s, io) as Json;
  }

  /** Components in name order (stable output). */
  sorted(): Record<string, Json> {
    return Object.fromEntries(Object.entries(this.components).sort(([a], [b]) => a.localeCompare(b)));
  }

  private rewrite(v: unknown, io: 'input' | 'output'): unknown {
    if (Array.isArray(v)) return v.map((x) => this.rewrite(x, io));
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/'))
        out[k] = COMPONENTS + x.slice('#/$defs/'.length);
      else if (k === 'additionalProperties' && x === false && io === 'output') continue;
      else out[k] = this.rewrite(x, io);
    }
    return out;
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

/** The media type of a response body; `text/*` bodies are strings. @default 'application/json' */
export const responseContentType = (r: ResponseSpec): string => r.contentType ?? 'application/json';

/**
 * Builds the OpenAPI 3.1 document from the topology's routes and their zod schemas, so the
 * contract cannot drift from what handlers validate.
 */
export function buildOpenApi(routes: readonly RouteSpec[], info: { version: string }): Json {
  const paths: Record<string, Json> = {};
  const set = new SchemaSet();
  set.add(ErrorBody, 'output');
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
      responses: responsesOf(r, set),
    };
    if (r.body) {
      const ctype = r.contentType ?? (r.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json');
      op.requestBody = { required: true, content: { [ctype]: { schema: jsonSchema(r.body) } } };
    }
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ARX control plane API',
      version: info.version,
      description: 'Generated from the ARX topology and its request and response schemas.',
    },
    components: {
      schemas: set.sorted(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths,
  };
}

const problem = { [PROBLEM_JSON]: { schema: { $ref: `${COMPONENTS}Problem` } } };
/** What API Gateway answers itself when no route is reached (authorizer refusals, throttling). */
const gateway = { 'application/json': { schema: { $ref: `${COMPONENTS}GatewayError` } } };
const errorResponse = (description: string, withGateway = false): Json => ({
  description,
  content: { ...problem, ...(withGateway ? gateway : {}) },
});

/** Success and declared statuses with their body schemas; the errors every route may answer. */
function responsesOf(r: RouteSpec, set: SchemaSet): Json {
  const out: Json = {};
  for (const spec of [...(r.response ? [r.response] : []), ...(r.otherResponses ?? [])]) {
    out[String(spec.status)] = {
      description: spec.description,
      ...(spec.schema ? { content: { [responseContentType(spec)]: { schema: set.add(spec.schema, 'output') } } } : {}),
    };
    // A declared error status may still answer problem details (e.g. a 403 from a scope check).
    if (spec.status >= 400 && responseContentType(spec) !== PROBLEM_JSON)
      Object.assign((out[String(spec.status)] as { content: Json }).content, problem);
  }
  out['400'] ??= errorResponse('Invalid request (RFC 9457 problem details, `errors[]` per field)');
  if (r.auth === 'bearer') {
    out['401'] ??= errorResponse('No valid token (answered by the authorizer: `{message}`)', true);
    out['403'] ??= errorResponse('The token lacks a role this route admits', true);
  }
  out.default = errorResponse('RFC 9457 problem details (or `{message}` when no route was reached)', true);
  return out;
}
