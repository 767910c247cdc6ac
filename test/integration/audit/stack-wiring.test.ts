/**
 * The audit functions wired exactly as the synthesised stack defines them (tables, Object Lock
 * bucket, data key, tenant signing key tagged for the initial tenant), through their handlers.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { provisionTestStack } from '../../support/stack.js';
import { encodeAuthContext } from '../../../lambdas/shared/http.js';
import { verifyChain } from '../../../lambdas/audit/core/verify-chain.js';
import { blockKey } from '../../../lambdas/audit/core/block.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

type Handler = (event: unknown, ctx: Context) => Promise<unknown>;
const ctx = (fn: string) =>
  ({ functionName: fn, awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 }) as Context;
let env: Record<string, string>;
let tenant: string;

beforeAll(async () => {
  ({ env } = await provisionTestStack());
  Object.assign(process.env, env, { ARX_SEAL_INTERVAL_MS: '10', ARX_SEAL_BUDGET_MS: '1' });
  delete process.env.ARX_TSA_URL;
  const { ListResourceTagsCommand, KMSClient } = await import('@aws-sdk/client-kms');
  const tags = await new KMSClient({}).send(new ListResourceTagsCommand({ KeyId: env.ARX_SIGNING_KEY_ARN }));
  tenant = tags.Tags!.find((t) => t.TagKey === 'arx:tenant')!.TagValue!;
});

describe('audit functions on the provisioned stack', () => {
  it('records through the sink, seals with the scheduled handler, serves status, proof and the block, and the published audit key set verifies it', async () => {
    const { createAuditSink } = await import('../../../lambdas/audit/sink.js');
    const sink = createAuditSink();
    const { event_id } = await sink.record({
      tenant_id: tenant,
      event_type: 'decision.approved',
      agent_id: 'agt_w',
      action: 'okta:users:deactivate',
      target: 'okta:user:1',
      decision: 'approved',
      occurred_at: new Date().toISOString(),
      correlation_id: 'cor_w',
      trace_id: '1'.repeat(32),
      payload: { reason: 'offboarding', token: 'secret' },
    });
    const sealer = (await import('../../../lambdas/audit/handlers/sealer.js')).handler as unknown as Handler;
    await sealer({ 'detail-type': 'Scheduled Event', detail: {} }, ctx('audit-sealer'));

    const api = (await import('../../../lambdas/audit/handlers/api.js')).handler as unknown as Handler;
    const call = async (route: string, params: Record<string, string> = {}) => {
      const r = (await api(
        {
          version: '2.0',
          routeKey: `GET ${route}`,
          rawPath: route,
          headers: {},
          requestContext: {
            requestId: randomUUID(),
            http: { method: 'GET', path: route },
            authorizer: {
              lambda: encodeAuthContext({
                tenantId: tenant,
                subject: 'aud',
                roles: ['auditor'],
                principalType: 'human',
              }),
            },
          },
          pathParameters: params,
          isBase64Encoded: false,
        },
        ctx('audit-api'),
      )) as { statusCode: number; body: string };
      return { status: r.statusCode, json: JSON.parse(r.body) };
    };
    const status = await call('/v1/audit/chain/status');
    expect(status.json).toMatchObject({ height: 1, pending_events: 0, anchoring: 'tsa_not_configured' });
    expect((await call('/v1/audit/events/{event_id}/proof', { event_id })).json).toMatchObject({
      event_id,
      block_id: 'blk-000000000001',
    });
    const block = await call('/v1/audit/blocks/{id}', { id: '1' });

    // The block is signed with the tenant's audit key, published (never retired) at the public audit-keys route.
    const keysPath = `/tenants/${tenant}/.well-known/audit-keys.json`;
    const set = (await api(
      {
        version: '2.0',
        routeKey: 'GET /tenants/{tenant_id}/.well-known/audit-keys.json',
        rawPath: keysPath,
        headers: {},
        requestContext: { requestId: randomUUID(), http: { method: 'GET', path: keysPath } },
        pathParameters: { tenant_id: tenant },
        isBase64Encoded: false,
      },
      ctx('audit-api'),
    )) as { statusCode: number; body: string };
    expect(set.statusCode).toBe(200);
    expect(
      await verifyChain([{ name: '1.json', text: JSON.stringify(block.json) }], {
        jwks: JSON.parse(set.body).keys,
        eventId: event_id,
      }),
    ).toMatchObject({ ok: true, signatures_checked: true });
    const head = await new S3Client({ forcePathStyle: true }).send(
      new HeadObjectCommand({ Bucket: env.ARX_AUDIT_BUCKET!, Key: blockKey(tenant, 1) }),
    );
    expect(head.ContentLength).toBeGreaterThan(0);
  });
});
