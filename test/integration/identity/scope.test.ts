/**
 * F19 across the real actions handler (against moto): an SVID narrowed to one operation cannot
 * be used for another one on `POST /v1/actions`; the refusal writes nothing.
 */
import { apiEvent } from '../../support/api-event.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { provisionTestStack } from '../../support/stack.js';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { lambdaContext } from '../../../local/runtime.js';
import { DynamoActionStore } from '../../../lambdas/actions/adapters/dynamo-action-store.js';
import { uniqueTenant } from './harness.js';

type Handler = (
  event: unknown,
  ctx: unknown,
) => Promise<{ statusCode: number; body?: string; headers?: Record<string, string> }>;
let handler: Handler;
let env: Record<string, string>;
const TENANT = uniqueTenant();
const AGENT = 'agt_01JCCCCCCCCCCCCCCCCCCCCCCC';

const agent = (scope?: string[]): AuthContext => ({
  tenantId: TENANT,
  subject: `spiffe://${TENANT}.arx/custom/${AGENT}`,
  roles: ['agent'],
  principalType: 'agent',
  agentId: AGENT,
  spiffeId: `spiffe://${TENANT}.arx/custom/${AGENT}`,
  ...(scope ? { scope } : {}),
});

async function submit(auth: AuthContext, body: unknown) {
  const r = await handler(apiEvent({ method: 'POST', route: '/v1/actions', auth, body }), lambdaContext('actions-api'));
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined, headers: r.headers ?? {} };
}

beforeAll(async () => {
  ({ env } = await provisionTestStack());
  Object.assign(process.env, env);
  handler = (await import('../../../lambdas/actions/handlers/api.js')).handler as unknown as Handler;
});

describe('POST /v1/actions with a narrowed SVID (F19, against moto)', () => {
  it('F19: a token narrowed to okta:users:read cannot run okta:users:deactivate (403 problem JSON, nothing recorded)', async () => {
    const r = await submit(agent(['okta:users:read']), {
      connector: 'okta',
      operation: 'users:deactivate',
      params: { user_id: '00u1' },
    });
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json.detail).toContain('okta:users:deactivate');
    const store = new DynamoActionStore(env.ARX_CONTROL_TABLE!);
    expect(
      await store.agentActions(TENANT, AGENT, [
        'denied',
        'pending_approval',
        'pending_execution',
        'executing',
        'executed',
        'failed',
      ]),
    ).toEqual([]);
  });

  it('F19: the same token passes the scope check for its own operation (the PDP then decides)', async () => {
    const r = await submit(agent(['okta:users:read']), { connector: 'okta', operation: 'users:read', params: {} });
    // Past the scope gate: the action is recorded and decided (unknown agent / no policy → denied).
    expect(r.json.action_id).toBeTruthy();
    expect(r.json.status).toBe('denied');
  });
});
