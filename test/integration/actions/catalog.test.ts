/**
 * GET /v1/connectors/{name}/operations through the real actions handler (against moto): each
 * connector's catalog as a policy author reads it, covering every operation of the brief's policy;
 * an unknown or malformed connector name is a 4xx problem.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiEvent } from '../../support/api-event.js';
import { provisionTestStack } from '../../support/stack.js';
import { checkResponse } from '../../support/contract.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { lambdaContext } from '../../../local/runtime.js';

type Handler = (
  event: unknown,
  ctx: unknown,
) => Promise<{ statusCode: number; body?: string; headers?: Record<string, string> }>;
let handler: Handler;
const TENANT = `t${Math.random().toString(36).slice(2, 10)}`;
const AGENT = 'agt_01JDDDDDDDDDDDDDDDDDDDDDDD';
const admin: AuthContext = { tenantId: TENANT, subject: 'admin-1', roles: ['admin'], principalType: 'human' };
const auditor: AuthContext = { tenantId: TENANT, subject: 'auditor-1', roles: ['auditor'], principalType: 'human' };
const agent: AuthContext = {
  tenantId: TENANT,
  subject: `spiffe://${TENANT}.arx/custom/${AGENT}`,
  roles: ['agent'],
  principalType: 'agent',
  agentId: AGENT,
  spiffeId: `spiffe://${TENANT}.arx/custom/${AGENT}`,
};

interface Catalog {
  name: string;
  operations: {
    name: string;
    action: string;
    suggested_risk: string;
    params: { type?: string; anyOf?: { type?: string }[]; oneOf?: { type?: string }[] };
  }[];
}

async function catalog(connector: string, auth: AuthContext = admin) {
  const event = apiEvent({
    method: 'GET',
    route: '/v1/connectors/{connector}/operations',
    params: { connector },
    auth,
  });
  const r = await handler(event, lambdaContext('actions-api'));
  checkResponse('GET', event.rawPath, {
    status: r.statusCode,
    contentType: r.headers?.['content-type'] ?? '',
    text: r.body ?? '',
  });
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined, headers: r.headers ?? {} };
}

beforeAll(async () => {
  const { env } = await provisionTestStack();
  Object.assign(process.env, env);
  handler = (await import('../../../lambdas/actions/handlers/api.js')).handler as unknown as Handler;
});

describe('GET /v1/connectors/{name}/operations', () => {
  it('okta offers every operation of the brief’s policy, each with a params schema and a suggested risk', async () => {
    const r = await catalog('okta');
    expect(r.status).toBe(200);
    const ops = (r.json as Catalog).operations;
    // The brief's okta-access-review operations (patterns match by prefix, as the policy compiler does).
    for (const pattern of [
      'users:read*',
      'groups:read*',
      'users:create',
      'users:update',
      'users:deactivate',
      'users:suspend',
      'users:reset_password',
    ]) {
      const match = (n: string) => (pattern.endsWith('*') ? n.startsWith(pattern.slice(0, -1)) : n === pattern);
      expect(
        ops.some((o) => match(o.name)),
        pattern,
      ).toBe(true);
    }
    expect(ops.map((o) => o.name)).toEqual(expect.arrayContaining(['users:list', 'groups:list', 'groups:readMembers']));
    for (const o of ops) {
      expect(o.action).toBe(`okta:${o.name}`);
      expect(['low', 'medium', 'high', 'critical']).toContain(o.suggested_risk);
      // A JSON Schema of an object, or of a choice between objects (e.g. one user or a filter).
      const shapes = o.params.anyOf ?? o.params.oneOf ?? [o.params];
      expect(
        shapes.every((x) => x.type === 'object'),
        o.name,
      ).toBe(true);
    }
    expect(Object.fromEntries(ops.map((o) => [o.name, o.suggested_risk]))).toMatchObject({
      'users:read': 'low',
      'users:deactivate': 'high',
    });
  });

  it('datadog offers the dashboard operations, and aws its brokered operations; agents and auditors may read them', async () => {
    const dd = await catalog('datadog', agent);
    expect(dd.status).toBe(200);
    expect((dd.json as Catalog).operations.map((o) => o.name).sort()).toEqual([
      'dashboards:create',
      'dashboards:delete',
      'dashboards:list',
      'dashboards:read',
      'dashboards:update',
    ]);
    const aws = await catalog('aws', auditor);
    expect(aws.status).toBe(200);
    expect((aws.json as Catalog).operations.map((o) => o.name)).toEqual(
      expect.arrayContaining(['iam:DeleteUser', 's3:DeleteBucket']),
    );
  });

  it('an unknown connector is a 404 problem, a malformed name a 400', async () => {
    const missing = await catalog('salesforce');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.json.detail).toContain('salesforce');
    const bad = await catalog('Not A Name!');
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });
});
