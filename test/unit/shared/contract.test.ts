import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../../lambdas/platform/core/openapi.js';
import { routeKey } from '../../../lambdas/shared/topology-types.js';
import { TOPOLOGY } from '../../../lambdas/topology.js';
import { CONTRACT_FILE, generateContract } from '../../../scripts/gen-contract.js';
import { checkResponse, ContractViolation } from '../../support/contract.js';

type Json = Record<string, unknown>;
type Op = { responses: Record<string, { content?: Record<string, { schema: Json }> }> };

const doc = buildOpenApi(TOPOLOGY.routes, { version: 't' }) as {
  paths: Record<string, Record<string, Op>>;
  components: { schemas: Record<string, Json> };
};

function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

describe('the typed contract', () => {
  it('declares a success response schema on every route (204 answers no body)', () => {
    const missing = TOPOLOGY.routes
      .filter((r) => !r.response || (r.response.status === 204 ? r.response.schema !== undefined : !r.response.schema))
      .map(routeKey);
    expect(missing, `routes without a success response schema: ${missing.join(', ')}`).toEqual([]);
    for (const r of TOPOLOGY.routes) {
      const statuses = [r.response!, ...(r.otherResponses ?? [])].map((s) => s.status);
      expect(new Set(statuses).size, `${routeKey(r)} declares a status twice`).toBe(statuses.length);
    }
  });

  it('carries every declared response schema in /openapi.json, with each $ref resolving to a component', () => {
    for (const r of TOPOLOGY.routes) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      for (const spec of [r.response!, ...(r.otherResponses ?? [])]) {
        const res = op.responses[String(spec.status)];
        expect(res, `${routeKey(r)} ${spec.status}`).toBeDefined();
        if (!spec.schema) continue;
        const content = res!.content?.[spec.contentType ?? 'application/json'];
        expect(
          content?.schema,
          `${routeKey(r)} ${spec.status} has no ${spec.contentType ?? 'application/json'} schema`,
        ).toBeTypeOf('object');
      }
      expect(op.responses.default?.content?.['application/problem+json']?.schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
    }
    const dangling = refs(doc).filter((ref) => !doc.components.schemas[ref.replace('#/components/schemas/', '')]);
    expect(dangling).toEqual([]);
    expect(doc.components.schemas.ApprovalMetadata).toMatchObject({
      required: expect.arrayContaining(['approval_id', 'approver', 'decided_at', 'channel', 'time_to_decision_ms']),
    });
  });

  it('names a schema once: the shared parts are components, not copies', () => {
    const action = doc.paths['/v1/actions/{id}']!.get!.responses['200']!.content!['application/json']!.schema;
    expect(action).toEqual({ $ref: '#/components/schemas/Action' });
    expect(doc.components.schemas.Action!.properties).toMatchObject({
      approval_metadata: { $ref: '#/components/schemas/ApprovalMetadata' },
    });
  });

  it('has a checked-in sdk/contract.gen.ts equal to a fresh generation (npm run gen:contract)', () => {
    expect(
      readFileSync(CONTRACT_FILE, 'utf8') === generateContract(),
      'sdk/contract.gen.ts is stale: run npm run gen:contract',
    ).toBe(true);
  });
});

describe('checkResponse (what api() runs on every response)', () => {
  const json = (status: number, body: unknown) => ({
    status,
    contentType: 'application/json',
    text: JSON.stringify(body),
  });
  const executed = {
    action_id: 'act_1',
    correlation_id: 'c',
    trace_id: 't',
    status: 'executed',
    result: null,
    decision: {
      effect: 'permit',
      approval: 'hitl',
      risk: 'high',
      policy: 'p',
      determining_policies: [],
      errors: [],
      evaluation_ms: 1,
      bundle_version: '1',
    },
    approval_metadata: {
      approval_id: 'apr_1',
      approver: 'mgr',
      decided_at: '2026-01-01T00:00:00Z',
      reason: 'ok',
      policy: 'p',
      channel: 'api',
      time_to_decision_ms: 5,
    },
  };

  it('accepts a body its route declares, and problem details for an error', () => {
    expect(() => checkResponse('POST', '/v1/actions', json(200, executed))).not.toThrow();
    expect(() =>
      checkResponse(
        'GET',
        '/v1/actions/act_1',
        json(404, { type: 'https://arx.dev/problems/not-found', title: 'Not found', status: 404, detail: 'x' }),
      ),
    ).not.toThrow();
    expect(() => checkResponse('GET', '/v1/actions/act_1', json(401, { message: 'Unauthorized' }))).not.toThrow();
  });

  it('refuses a body that drifted from the schema, naming the route and the field', () => {
    const { channel: _c, ...drifted } = executed.approval_metadata;
    const check = () => checkResponse('POST', '/v1/actions', json(200, { ...executed, approval_metadata: drifted }));
    expect(check).toThrow(ContractViolation);
    expect(check).toThrow(/POST \/v1\/actions .*approval_metadata\.channel/s);
  });

  it('refuses a success status the route does not declare, and an error that is not problem details', () => {
    expect(() => checkResponse('GET', '/healthz', json(201, { status: 'ok' }))).toThrow(
      /GET \/healthz .*201 is not declared/,
    );
    expect(() => checkResponse('GET', '/v1/approvals', json(500, { error: 'boom' }))).toThrow(/neither/);
  });
});

describe("the SDKs' wire fixture (sdk/contract/actions.json)", () => {
  it('answers only bodies the API contract declares', () => {
    const cases = (
      JSON.parse(readFileSync(new URL('../../../sdk/contract/actions.json', import.meta.url), 'utf8')) as {
        cases: {
          name: string;
          exchanges: { request: { method: string; path: string }; response: { status: number; body: unknown } }[];
        }[];
      }
    ).cases;
    for (const c of cases) {
      for (const ex of c.exchanges) {
        expect(
          () =>
            checkResponse(ex.request.method, ex.request.path, {
              status: ex.response.status,
              contentType: 'application/json',
              text: JSON.stringify(ex.response.body),
            }),
          c.name,
        ).not.toThrow();
      }
    }
  });
});
